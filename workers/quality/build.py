"""Building the quality worker: its group, subscription, topics and handler."""

from __future__ import annotations

import dataclasses
import re

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router import RouterConfig, RoutingEngine
from llmrouter.router.config import AdaptiveRoute, TaskSpec
from llmrouter.runtime.lanes import Lanes
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.worker import TransactionalWorker
from llmrouter.schemas import FEEDBACK_TOPIC, task_of_topic
from llmrouter.schemas.scores import SCORES_TOPIC, shadow_topic
from llmrouter.schemas.topics import task_topic_pattern
from llmrouter.workers.feedback import feedback_error_policy
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import WorkerIdentity
from llmrouter.workers.quality.handler import QualityHandler
from llmrouter.workers.quality.policy import skip_on_error

__all__ = [
    "QUALITY_GROUP",
    "build_quality_worker",
    "quality_options",
    "quality_pattern",
    "quality_topics",
    "watched",
]

QUALITY_GROUP = "llmrouter-quality"
#: the quality worker's outputs wait for no client: at most about two transactions a
#: second, so it asks less of the broker (shared with the live workers) than they do
QUALITY_FLUSH_INTERVAL_S = 0.5
#: it reads at its own pace too: a fetch waits until 64 KiB are ready, or 100 ms, instead
#: of answering at each batch the clients and live workers write (at 200 req/s, hundreds
#: of fetches a second, each a request to send, a response to decode and a wake-up, for a
#: few records). More would slow a catch-up: a fetch of partitions resumed after
#: backpressure with less than that to read waits out the whole wait.
QUALITY_FETCH_MIN_BYTES = 64 << 10
QUALITY_FETCH_MAX_WAIT_MS = 100


def watched(spec: TaskSpec) -> bool:
    """Whether the quality worker reads a task's requests and answers."""
    routes = [spec.route, *spec.tiers.values(), spec.batch]
    return (
        spec.shadow is not None
        or spec.judge is not None
        or any(isinstance(r, AdaptiveRoute) for r in routes)
    )


def quality_pattern(config: RouterConfig, tasks_pattern: str | None = None) -> str:
    """The watched tasks' requests and results (of those `tasks_pattern` matches, when
    given), the scores and the feedback."""
    names = sorted(
        name
        for name, spec in config.tasks.items()
        if watched(spec) and (tasks_pattern in (None, "*") or re.fullmatch(tasks_pattern, name))
    )
    parts = [rf"^{re.escape(SCORES_TOPIC)}$", rf"^{re.escape(FEEDBACK_TOPIC)}$"]
    if names:
        tasks = "|".join(re.escape(n) for n in names)
        parts += [task_topic_pattern("requests", tasks), task_topic_pattern("results", tasks)]
    return "|".join(parts)


def quality_topics(config: RouterConfig, partitions: int) -> dict[str, int]:
    """The topics the quality worker writes: `llm.scores` and each shadowed task's
    `llm.shadow.<task>`."""
    topics = {SCORES_TOPIC: partitions, FEEDBACK_TOPIC: partitions}
    for name, spec in config.tasks.items():
        if spec.shadow is not None:
            topics[shadow_topic(name)] = partitions
    return topics


async def prepare_quality_topics(
    config: RouterConfig, bootstrap: str, partitions: int, client_kwargs: dict[str, object]
) -> None:
    await ensure_topics(bootstrap, quality_topics(config, partitions), client_kwargs=client_kwargs)


def _identity(options: WorkerOptions) -> WorkerIdentity:
    """Who dead-letters: the worker's name, group and instance id (its transactional id is
    `<group>-<instance id>`)."""
    instance = options.transactional_id.removeprefix(f"{options.group_id}-")
    return WorkerIdentity(options.name, options.group_id, instance)


def quality_options(options: WorkerOptions) -> WorkerOptions:
    """The worker's options as the quality worker runs them: batched reads and
    transactions (never batched less than `options` asks)."""
    return dataclasses.replace(
        options,
        flush_interval_s=max(options.flush_interval_s, QUALITY_FLUSH_INTERVAL_S),
        fetch_min_bytes=max(options.fetch_min_bytes, QUALITY_FETCH_MIN_BYTES),
        fetch_max_wait_ms=QUALITY_FETCH_MAX_WAIT_MS,
    )


def build_quality_worker(
    router: RoutingEngine,
    options: WorkerOptions,
    kafka: KafkaSettings,
    *,
    weights: dict[str, float] | None = None,
) -> TransactionalWorker:
    """The worker, on the router's state (its store holds the posteriors the routers read)."""
    handler = QualityHandler(router.config, router.state)
    options = quality_options(options)
    lanes = Lanes(of=lambda topic: task_of_topic(topic) or "", weights=dict(weights or {}))
    return TransactionalWorker(
        options,
        kafka,
        handler,
        skip_on_error(options.name, feedback=feedback_error_policy(_identity(options))),
        metrics=METRICS,
        lanes=lanes,
        at_once=handler.at_once,
    )

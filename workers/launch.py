"""Building and running the workers: `llmrouter worker classifier|router` and `llmrouter run`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from aiokafka.errors import KafkaError
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from llmrouter.core.errors import KafkaUnavailable, LLMRouterError
from llmrouter.core.settings import EnvSettings
from llmrouter.core.tracing import configure_tracing
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.errors import translate_kafka_error
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router import RouterConfig, RoutingEngine
from llmrouter.router.state.wiring import open_state
from llmrouter.runtime.lanes import Lanes
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.worker import TransactionalWorker
from llmrouter.schemas.topics import BATCHES_TOPIC, router_topics, task_of_topic
from llmrouter.workers.batch.handover import BatchHandover
from llmrouter.workers.batch.topic import ensure_batches_topic
from llmrouter.workers.batch.worker import BATCH_GROUP, BatchWorker
from llmrouter.workers.group_share import follow_group_size
from llmrouter.workers.handlers import ClassifierHandler, RouterHandler
from llmrouter.workers.health import HealthServer
from llmrouter.workers.kinds import WorkerKind
from llmrouter.workers.lifecycle import (
    ConfigReloader,
    RouterUser,
    answerable,
    check_before_serving,
    log_startup,
    subscription_pattern,
)
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import ErrorPolicy, WorkerIdentity
from llmrouter.workers.quality.build import (
    QUALITY_GROUP,
    build_quality_worker,
    prepare_quality_topics,
    quality_pattern,
)
from llmrouter.workers.quality.handler import QualityHandler
from llmrouter.workers.quality.reload import QualityReload

__all__ = [
    "CLASSIFIER_GROUP",
    "ROUTER_GROUP",
    "WorkerSettings",
    "build_worker",
    "run_workers",
    "task_lanes",
]

log = structlog.get_logger("llmrouter.workers")

CLASSIFIER_GROUP = "llmrouter-classifier"
ROUTER_GROUP = "llmrouter-router"


#: a WorkerOptions of the runtime's defaults: the settings they can be set by start from them
_RUNTIME = WorkerOptions(name="", group_id="", pattern="", transactional_id="")


def _host_and_pid() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerSettings(EnvSettings):
    """Everything a worker process is started with besides the routing config. Each field
    but `kafka` is also set by its variable, LLMROUTER_ and its name in upper case
    (LLMROUTER_MAX_IN_FLIGHT, LLMROUTER_HEALTH_PROBE_S, ...); the runtime's defaults are
    WorkerOptions' own."""

    model_config = SettingsConfigDict(env_prefix="LLMROUTER_")

    kafka: KafkaSettings
    #: stable across restarts of the same worker (e.g. a StatefulSet pod name), so a
    #: restarted worker fences its crashed self at once; defaults to host and pid
    instance_id: str = Field(default_factory=_host_and_pid)
    #: records processed at once per worker; enough for 500 requests/s at 1.5 s per call
    max_in_flight: int = Field(default=_RUNTIME.max_in_flight, ge=1)
    #: each task's weight in its share of `max_in_flight` (a task not named weighs 1), e.g.
    #: {"chat": 3, "nightly": 1}; shares are work-conserving (see runtime/lanes.py)
    task_weights: dict[str, float] = Field(default_factory=dict)
    #: how long a stopping worker waits for the records in flight
    grace_s: float = Field(default=_RUNTIME.grace_s, ge=0)
    max_message_bytes: int = Field(default=1_000_000, ge=1)
    #: partitions of the topics created at start-up
    partitions: int = Field(default=3, ge=1)
    metadata_max_age_ms: int = Field(default=_RUNTIME.metadata_max_age_ms, ge=0)
    group_prefix: str = ""
    #: create the topics of the configured tasks at start-up
    create_topics: bool = True
    #: regex of the task names whose topics this deployment reads, `*` for every task;
    #: None (the default): exactly the tasks of its config
    tasks_pattern: str | None = None
    session_timeout_ms: int = Field(default=_RUNTIME.session_timeout_ms, ge=1)
    #: port of /healthz, /readyz and /metrics; 0 picks a free one, -1 serves none
    metrics_port: int = Field(default=9400, ge=-1, le=65535)
    metrics_host: str = "0.0.0.0"
    #: seconds between the health server's probes of the workers
    health_probe_s: float = Field(default=5.0, gt=0)
    #: the compacted topic of the batch worker's entries and jobs (workers/batch/)
    batches_topic: str = BATCHES_TOPIC

    @field_validator("task_weights")
    @classmethod
    def _positive_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        bad = sorted(task for task, weight in weights.items() if not weight > 0)
        if bad:
            raise ValueError(f"task weights must be > 0: {', '.join(bad)}")
        return weights

    @classmethod
    def from_env(cls, kafka: KafkaSettings, **values: Any) -> WorkerSettings:
        """Values given here (None: not given) win; then the LLMROUTER_* variables; then
        the defaults."""
        return cls.from_environment(kafka=kafka, **values)


def build_worker(
    kind: WorkerKind, router: RoutingEngine, settings: WorkerSettings
) -> TransactionalWorker:
    if kind == "quality":  # off the hot path: reads what the router published
        return _quality_worker(router, settings)
    group = settings.group_prefix + (CLASSIFIER_GROUP if kind == "classifier" else ROUTER_GROUP)
    options = WorkerOptions(
        name=kind,
        group_id=group,
        pattern=subscription_pattern(kind, router.config, settings.tasks_pattern),
        transactional_id=f"{group}-{settings.instance_id}",
        max_in_flight=settings.max_in_flight,
        grace_s=settings.grace_s,
        metadata_max_age_ms=settings.metadata_max_age_ms,
        session_timeout_ms=settings.session_timeout_ms,
        # both read llm.requests (router/paths.py): each starts a partition past what the
        # other finished, so a task that changes path is not read again from its start
        peer_groups=(
            settings.group_prefix + (ROUTER_GROUP if kind == "classifier" else CLASSIFIER_GROUP),
        ),
    )
    identity = WorkerIdentity(kind, group, settings.instance_id)
    handler = (
        ClassifierHandler(router, max_message_bytes=settings.max_message_bytes)
        if kind == "classifier"
        # a request no model answered is dead-lettered by its handler, in this name
        else RouterHandler(router, max_message_bytes=settings.max_message_bytes, identity=identity)
    )
    policy = ErrorPolicy(identity)
    worker = TransactionalWorker(
        options, settings.kafka, handler, policy, metrics=METRICS, lanes=task_lanes(settings)
    )
    policy.answerable = answerable(handler, worker.has_topic)
    # the cost events of calls no result carries (workers/accounting.py)
    handler.publish_unbound = worker.publish_unbound
    if isinstance(handler, RouterHandler):  # batch priority to provider batch jobs
        handler.batches = BatchHandover(settings.batches_topic)
    return worker


def batch_worker(router: RoutingEngine, settings: WorkerSettings) -> BatchWorker:
    """The batch worker (workers/batch/): its own group, one owner per partition."""
    return BatchWorker(
        router,
        settings.kafka,
        topic=settings.batches_topic,
        group_id=settings.group_prefix + BATCH_GROUP,
        session_timeout_ms=settings.session_timeout_ms,
        instance_id=settings.instance_id,
    )


def _quality_worker(router: RoutingEngine, settings: WorkerSettings) -> TransactionalWorker:
    group = settings.group_prefix + QUALITY_GROUP
    options = WorkerOptions(
        name="quality",
        group_id=group,
        pattern=quality_pattern(router.config, settings.tasks_pattern),
        transactional_id=f"{group}-{settings.instance_id}",
        max_in_flight=settings.max_in_flight,
        grace_s=settings.grace_s,
        metadata_max_age_ms=settings.metadata_max_age_ms,
        session_timeout_ms=settings.session_timeout_ms,
    )
    return build_quality_worker(router, options, settings.kafka, weights=settings.task_weights)


def _lane_of(topic: str) -> str:
    return task_of_topic(topic) or ""


def task_lanes(settings: WorkerSettings) -> Lanes:
    """Each task is a lane of the runtime: its own share of `max_in_flight`, by weight."""
    return Lanes(of=_lane_of, weights=dict(settings.task_weights))


async def _start(worker: TransactionalWorker) -> None:
    """Start one worker; any failure becomes one of our errors, said in one line."""
    try:
        await worker.start()
    except LLMRouterError:
        raise
    except KafkaError as exc:
        raise translate_kafka_error(exc, f"{worker.options.name}: cannot start") from exc
    except OSError as exc:
        raise KafkaUnavailable(f"{worker.options.name}: cannot start: {exc}") from None


async def prepare_topics(config: RouterConfig, settings: WorkerSettings) -> None:
    """Create the topics of every configured task (we do not rely on auto-creation)."""
    await ensure_topics(
        settings.kafka.bootstrap_servers,
        router_topics(config.tasks, partitions=settings.partitions),
        client_kwargs={
            k: v for k, v in settings.kafka.client_kwargs().items() if k != "bootstrap_servers"
        },
    )


async def run_workers(
    kinds: Sequence[WorkerKind],
    config: RouterConfig,
    settings: WorkerSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    on_health: Callable[[HealthServer], None] | None = None,
    config_path: Path | None = None,
) -> None:
    """Run the given workers in this process until SIGTERM/SIGINT (or `stop`), then drain.
    SIGHUP reloads the config from `config_path`, when given."""
    await check_before_serving(config)
    configure_tracing("llmrouter-" + "-".join(kinds))
    log_startup(
        kinds,
        config,
        config_path,
        group_prefix=settings.group_prefix,
        instance_id=settings.instance_id,
        tasks_pattern=settings.tasks_pattern,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    if settings.create_topics:
        await prepare_topics(config, settings)
        if "quality" in kinds:
            await prepare_quality_topics(
                config,
                settings.kafka.bootstrap_servers,
                settings.partitions,
                {
                    k: v
                    for k, v in settings.kafka.client_kwargs().items()
                    if k != "bootstrap_servers"
                },
            )
        if any(spec.batch_api is not None for spec in config.models.values()):
            await ensure_batches_topic(settings.kafka, settings.batches_topic, settings.partitions)
    # Shared through the store when one is configured, else per process (router/state/).
    # a dead process's request-id claims expire when its partitions move (its session)
    claim_lease_s = settings.session_timeout_ms / 1000
    state = open_state(
        config, kafka=settings.kafka, namespace=settings.group_prefix, claim_lease_s=claim_lease_s
    )
    router = RoutingEngine(config, state=state)
    workers = [build_worker(kind, router, settings) for kind in kinds if kind != "batch"]
    batch = batch_worker(router, settings) if "batch" in kinds else None
    follow = None
    if "router" in kinds:  # the per-process share of the limits (the fallback with a store)
        follow = asyncio.create_task(
            follow_group_size(state, settings.kafka, settings.group_prefix + ROUTER_GROUP, stop)
        )
    reloader = None
    if config_path is not None:
        users: list[RouterUser] = [
            h for w in workers if isinstance(h := w.handler, ClassifierHandler | RouterHandler)
        ]
        users += [
            QualityReload(h, router) for w in workers if isinstance(h := w.handler, QualityHandler)
        ]
        reloader = ConfigReloader(
            config_path,
            users,
            router,
            # on the running store: a reload opens no second connection
            make_state=lambda cfg, store: open_state(
                cfg,
                kafka=settings.kafka,
                store=store,
                namespace=settings.group_prefix,
                claim_lease_s=claim_lease_s,
            ),
        )
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, reloader.schedule)
    started: list[TransactionalWorker] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            # The health port first: a port in use should stop us before we join a group.
            if settings.metrics_port >= 0:
                health = HealthServer(
                    workers,
                    host=settings.metrics_host,
                    port=settings.metrics_port,
                    probe_interval_s=settings.health_probe_s,
                )
                await stack.enter_async_context(health.serving())
                if on_health is not None:
                    on_health(health)
            for worker in workers:
                await _start(worker)
                started.append(worker)
            if batch is not None:
                await batch.start()
            if ready is not None:
                ready.set()
            started.clear()  # from here on each worker's run() closes it
            runs = [worker.run(stop) for worker in workers]
            await asyncio.gather(*runs, *([batch.run(stop)] if batch is not None else []))
    except BaseException:
        for worker in started:  # started, but never ran: close their clients
            with contextlib.suppress(Exception):
                await worker.abandon()
        if batch is not None:
            with contextlib.suppress(Exception):
                await batch.abandon()
        raise
    finally:
        for worker in workers:  # the quality worker's own provider clients
            if isinstance(handler := worker.handler, QualityHandler):
                await handler.aclose()
        if follow is not None:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow
        if reloader is not None:
            await reloader.router.aclose()
            await reloader.aclose()
        else:
            await router.aclose()
        for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", signal.SIGTERM)):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

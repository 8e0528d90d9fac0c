"""What `llmrouter learn collect` reads: the requests of a time window, and every answer,
feedback and score about them, from the topics as they are.

- requests: `llm.requests.<task>`, stamped in `[since, until)`;
- answers: `llm.results.<task>` (live) and, when the topics exist, `llm.shadow.<task>`
  (candidate models' answers to mirrored requests), stamped from `since` on;
- feedback: `llm.feedback` (schemas/feedback.py), from `since` on;
- scores: `llm.scores` (an online judge's grades), when the topic exists, from `since` on.

Answers, feedback and scores come after their request, so they are read up to the end of
each topic at the moment the read starts, not up to `until`. Every read is
read_committed over offset ranges fixed before it starts (kafkaio/reading.py), so it ends
however fast the topics grow. A record that cannot be decoded is counted and skipped:
this is a reader, the workers consuming these topics dead-letter bad records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from llmrouter.core.errors import ConfigError, InvalidMessage
from llmrouter.kafkaio.reading import (
    partitions_of,
    read_records,
    reader,
    time_spans,
    to_ms,
    topics_matching,
)
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.schemas import (
    FEEDBACK_TOPIC,
    REQUESTS_PATTERN,
    RESULTS_PATTERN,
    Feedback,
    LLMRequest,
    LLMResult,
    decode,
)
from llmrouter.schemas.base import WireModel
from llmrouter.schemas.scores import SCORES_TOPIC, SHADOW_PATTERN, Score

__all__ = ["Traffic", "TrafficWindow", "read_traffic"]

_M = TypeVar("_M", bound=WireModel)


@dataclass(frozen=True)
class TrafficWindow:
    """Requests stamped in `[since, until)` (open ends: the topics' beginning and end) of
    `tasks` (empty: every task with a requests topic)."""

    since: datetime | None = None
    until: datetime | None = None
    tasks: tuple[str, ...] = ()


@dataclass
class Traffic:
    """Everything read, in topic order per partition; records that could not be decoded
    are only counted, by topic kind."""

    requests: list[LLMRequest] = field(default_factory=list)
    answers: list[LLMResult] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    undecodable: dict[str, int] = field(default_factory=dict)
    #: the topics that were read
    topics: list[str] = field(default_factory=list)


async def read_traffic(kafka: KafkaSettings, window: TrafficWindow) -> Traffic:
    since = to_ms(window.since) if window.since is not None else None
    until = to_ms(window.until) if window.until is not None else None
    traffic = Traffic()
    async with reader(kafka) as consumer:
        existing = set(await consumer.topics())
        requests = await _task_topics(consumer, "requests", REQUESTS_PATTERN, window.tasks)
        answers = await _task_topics(consumer, "results", RESULTS_PATTERN, window.tasks)
        answers += await _task_topics(consumer, None, SHADOW_PATTERN, window.tasks)
        wanted = set(window.tasks)
        async for record in _records(consumer, requests, since, until):
            _take(traffic, "requests", record, LLMRequest, traffic.requests)
        async for record in _records(consumer, answers, since, None):
            _take(traffic, "answers", record, LLMResult, traffic.answers)
        if FEEDBACK_TOPIC in existing:
            async for record in _records(consumer, [FEEDBACK_TOPIC], since, None):
                _take(traffic, "feedback", record, Feedback, traffic.feedback, wanted)
        if SCORES_TOPIC in existing:
            async for record in _records(consumer, [SCORES_TOPIC], since, None):
                _take(traffic, "scores", record, Score, traffic.scores, wanted)
        extra = [t for t in (FEEDBACK_TOPIC, SCORES_TOPIC) if t in existing]
        traffic.topics = [*requests, *answers, *extra]
    return traffic


async def _task_topics(
    consumer: AIOKafkaConsumer, required: str | None, pattern: str, tasks: Sequence[str]
) -> list[str]:
    """The topics matching `pattern` of `tasks` (empty: of every task); a `required` kind
    of topic missing for one of `tasks` is a ConfigError."""
    found = await topics_matching(consumer, pattern)
    if not tasks:
        return found
    chosen = [t for t in found if t.split(".", 2)[-1] in tasks]
    missing = sorted(set(tasks) - {t.split(".", 2)[-1] for t in chosen})
    if required is not None and missing:
        raise ConfigError(
            f"no {required} topic for task {missing[0]!r} (llm.{required}.{missing[0]})"
        )
    return chosen


async def _records(
    consumer: AIOKafkaConsumer, topics: Sequence[str], since: int | None, until: int | None
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    if not topics:
        return
    partitions = [tp for tps in (await partitions_of(consumer, topics)).values() for tp in tps]
    spans = await time_spans(consumer, partitions, since, until)
    async for record in read_records(consumer, spans):
        yield record


def _take(
    traffic: Traffic,
    kind: str,
    record: ConsumerRecord[bytes, bytes],
    model: type[_M],
    into: list[_M],
    tasks: set[str] | None = None,
) -> None:
    try:
        message = decode(record.value, model)
    except InvalidMessage:
        traffic.undecodable[kind] = traffic.undecodable.get(kind, 0) + 1
        return
    task = getattr(message, "task", None)
    if tasks and task not in tasks:
        return
    into.append(message)

"""`llmrouter replay`: re-run a fixed range of `llm.requests.<task>` through another routing
config, into `llm.replay.<run_id>.results`, without touching the live consumer groups.

    llm.requests.<task> [range] ──► RoutingEngine(candidate config) ──► llm.replay.<run_id>.results
                                     (classifies inline)          + offsets of the group
                                                                    llmrouter-replay-<run_id>
                                                                    in the same transaction

Safe to interrupt and re-run. Records are routed in chunks of up to `concurrency`; each
chunk's results and the replay group's offsets past it are committed in one transaction
(transactional id `llmrouter-replay-<run_id>`), so a chunk is either wholly published with
its offsets or not at all. A re-run first starts the transactional producer — which
completes or aborts whatever the previous run left open — and then resumes from the
group's committed offsets. As a second guard (aiokafka cannot ask for "stable" committed
offsets), request ids that already have a replay result are skipped, so no request is
ever replayed twice into one run.

Replays publish no cost events: `llm.costs` is live spend, and budgets and reports read
it. Each replay result carries its attempts and their costs instead. A replay result's
`latency_ms` is the candidate's own routing time (the request was created long ago).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from llmrouter.core.errors import ConfigError, InvalidMessage, KafkaUnavailable
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.reading import (
    Record,
    Span,
    read_records,
    read_spans,
    reader,
    spans_between,
    time_spans,
    to_ms,
    topic_partitions,
    whole_topic,
)
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import Output, commit_transaction, start_transactional_producer
from llmrouter.router import RouterConfig, RoutingEngine
from llmrouter.schemas import (
    LLMRequest,
    LLMResult,
    ResultStatus,
    decode,
    encode,
    replay_results_topic,
    requests_topic,
)

__all__ = [
    "ReplayOutcome",
    "ReplayRange",
    "ReplayStats",
    "check_run",
    "replay",
    "replay_group",
]

log = structlog.get_logger("llmrouter.replay")

ProgressFn = Callable[[int, int, "ReplayStats"], None]


def replay_group(run_id: str) -> str:
    """Consumer group (and transactional id) of a replay run: never a live group."""
    try:
        replay_results_topic(run_id)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return f"llmrouter-replay-{run_id}"


def check_run(config: RouterConfig, task: str, run_id: str, concurrency: int) -> None:
    """A user mistake in the arguments, as one clear line, before any work starts."""
    replay_group(run_id)
    if task not in config.tasks:
        raise ConfigError(f"task {task!r} has no route in the candidate config")
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")


@dataclass(frozen=True)
class ReplayRange:
    """Which records to replay: a time window, or the same offsets in every partition.

    Both are half-open: `[since, until)` by record timestamp, `[from_offset, to_offset)`
    by offset. An open end means "up to the end of the topic when the replay starts".
    `partitions` restricts the range to some partitions (default: all).
    """

    since: datetime | None = None
    until: datetime | None = None
    from_offset: int | None = None
    to_offset: int | None = None
    partitions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        by_time = self.since is not None or self.until is not None
        by_offset = self.from_offset is not None or self.to_offset is not None
        if by_time == by_offset:
            raise ConfigError(
                "give a time range (--since/--until) or an offset range (--from-offset/--to-offset)"
            )
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ConfigError("--until must be later than --since")
        if any(o is not None and o < 0 for o in (self.from_offset, self.to_offset)):
            raise ConfigError("offsets cannot be negative")
        if (
            self.from_offset is not None
            and self.to_offset is not None
            and self.to_offset < self.from_offset
        ):
            raise ConfigError("--to-offset must not be below --from-offset")


@dataclass
class ReplayStats:
    #: results this run published (failed ones included)
    replayed: int = 0
    failed: int = 0
    #: records whose request already had a result in this run (an earlier, interrupted run)
    already_replayed: int = 0
    #: records that are not a valid request of the task (the live workers dead-letter them)
    unreadable: int = 0
    #: requests the candidate config refuses (e.g. input over its size limit)
    rejected: int = 0
    transactions: int = 0
    last_problem: str | None = None


@dataclass
class ReplayOutcome:
    run_id: str
    task: str
    topic: str
    spans: dict[TopicPartition, Span]
    #: where this run started in each partition (after what earlier runs committed)
    resumed_at: dict[TopicPartition, int]
    stats: ReplayStats
    #: every replay result of the run: earlier runs' and this one's
    results: list[LLMResult] = field(default_factory=list)


async def replay(
    kafka: KafkaSettings,
    config: RouterConfig,
    task: str,
    run_id: str,
    window: ReplayRange,
    *,
    concurrency: int = 16,
    router: RoutingEngine | None = None,
    on_progress: ProgressFn | None = None,
) -> ReplayOutcome:
    """Replay `window` of the task's request topic into the run's results topic."""
    check_run(config, task, run_id, concurrency)
    group = replay_group(run_id)
    # The producer first: starting it ends the previous run's open transaction, so the
    # offsets and results read next are final.
    producer = await _start_producer(kafka, group)
    active = router or RoutingEngine(config)
    try:
        async with reader(kafka, group_id=group) as consumer:
            partitions = await _partitions(consumer, task, window)
            spans = await _spans(consumer, partitions, window)
            topic = await _ensure_output(kafka, consumer, task, run_id)
            earlier = await _earlier_results(consumer, topic)
            resumed = await _resume_points(consumer, spans)
            outcome = ReplayOutcome(run_id, task, topic, spans, resumed, ReplayStats(), earlier)
            todo = {tp: Span(resumed[tp], spans[tp].end) for tp in spans}
            chunk = _Chunker(active, task, outcome, {r.request_id for r in earlier})
            await _run(consumer, producer, group, todo, chunk, concurrency, on_progress)
            return outcome
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        if router is None:  # ours to close; a router passed in is the caller's
            await active.aclose()


async def _start_producer(kafka: KafkaSettings, transactional_id: str) -> AIOKafkaProducer:
    return await start_transactional_producer(kafka, transactional_id, who="replay")


async def _partitions(
    consumer: AIOKafkaConsumer, task: str, window: ReplayRange
) -> list[TopicPartition]:
    topic = requests_topic(task)
    try:
        found = await topic_partitions(consumer, topic)
    except KafkaUnavailable:
        raise ConfigError(f"topic {topic} does not exist: nothing to replay") from None
    if window.partitions is None:
        return found
    unknown = sorted(set(window.partitions) - {tp.partition for tp in found})
    if unknown:
        raise ConfigError(f"{topic} has no partition {unknown[0]} (it has {len(found)})")
    return [tp for tp in found if tp.partition in window.partitions]


async def _spans(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], window: ReplayRange
) -> dict[TopicPartition, Span]:
    if window.from_offset is not None or window.to_offset is not None:
        return await spans_between(consumer, partitions, window.from_offset, window.to_offset)
    since = to_ms(window.since) if window.since is not None else None
    until = to_ms(window.until) if window.until is not None else None
    return await time_spans(consumer, partitions, since, until)


async def _ensure_output(
    kafka: KafkaSettings, consumer: AIOKafkaConsumer, task: str, run_id: str
) -> str:
    """The run's results topic, with as many partitions as the request topic."""
    topic = replay_results_topic(run_id)
    partitions = len(await topic_partitions(consumer, requests_topic(task)))
    kwargs = {k: v for k, v in kafka.client_kwargs().items() if k != "bootstrap_servers"}
    await ensure_topics(kafka.bootstrap_servers, {topic: partitions}, client_kwargs=kwargs)
    return topic


async def _earlier_results(consumer: AIOKafkaConsumer, topic: str) -> list[LLMResult]:
    """The run's results published so far (committed ones only)."""
    results = []
    async for record in read_records(consumer, await whole_topic(consumer, topic)):
        with contextlib.suppress(InvalidMessage):
            results.append(decode(record.value, LLMResult))
    return results


async def _resume_points(
    consumer: AIOKafkaConsumer, spans: Mapping[TopicPartition, Span]
) -> dict[TopicPartition, int]:
    """Per partition: after what the replay group committed, but never before the range."""
    points = {}
    for tp, span in spans.items():
        committed = await consumer.committed(tp)
        points[tp] = min(span.end, max(span.start, committed or 0))
    return points


class _Chunker:
    """Routes one chunk of records into the outputs of its transaction."""

    def __init__(
        self, router: RoutingEngine, task: str, outcome: ReplayOutcome, done_ids: set[str]
    ) -> None:
        self._router = router
        self._task = task
        self.outcome = outcome
        self._done = done_ids

    async def results(self, records: Sequence[Record]) -> list[LLMResult]:
        requests = [r for r in (self._request(rec) for rec in records) if r is not None]
        routed = await asyncio.gather(*(self._route(r) for r in requests))
        return [r for r in routed if r is not None]

    def published(self, results: list[LLMResult]) -> None:
        stats = self.outcome.stats
        stats.replayed += len(results)
        stats.failed += sum(r.status is ResultStatus.FAILED for r in results)
        stats.transactions += 1
        self.outcome.results.extend(results)

    def _request(self, record: Record) -> LLMRequest | None:
        stats = self.outcome.stats
        try:
            request = decode(record.value, LLMRequest)
        except InvalidMessage as exc:
            stats.unreadable += 1
            stats.last_problem = f"p{record.partition}@{record.offset}: {exc}"
            return None
        if request.task != self._task:
            stats.unreadable += 1
            stats.last_problem = f"p{record.partition}@{record.offset}: task {request.task!r}"
            return None
        if request.request_id in self._done:  # duplicate in the topic, or replayed before
            stats.already_replayed += 1
            return None
        self._done.add(request.request_id)
        # Without created_at the router times its own work: the candidate's latency.
        return request.model_copy(update={"created_at": None})

    async def _route(self, request: LLMRequest) -> LLMResult | None:
        try:
            return (await self._router.route(request)).result  # failed ones too
        except Exception as exc:  # one bad request must not stop a long replay
            self._reject(request, exc)
        return None

    def _reject(self, request: LLMRequest, exc: Exception) -> None:
        stats = self.outcome.stats
        stats.rejected += 1
        stats.last_problem = f"{request.request_id}: {type(exc).__name__}: {exc}"
        log.warning("replay rejected a request", request_id=request.request_id, error=repr(exc))
        self._done.discard(request.request_id)


async def _run(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    group: str,
    todo: dict[TopicPartition, Span],
    chunker: _Chunker,
    concurrency: int,
    on_progress: ProgressFn | None,
) -> None:
    """Chunk by chunk: route up to `concurrency` records at once, then commit them."""
    stats = chunker.outcome.stats
    total = sum(span.size for span in todo.values())
    reached = {tp: span.start for tp, span in todo.items()}
    report = on_progress or (lambda _done, _total, _stats: None)
    report(0, total, stats)
    async for records in read_spans(consumer, todo, max_records=concurrency):
        results = await chunker.results(records)
        offsets = _offsets_after(records)
        await _commit(producer, group, chunker.outcome.topic, results, offsets)
        chunker.published(results)
        reached.update(offsets)
        report(sum(reached[tp] - span.start for tp, span in todo.items()), total, stats)
    # Transaction markers at the ends of the spans hold offsets but no records.
    report(total, total, stats)


def _offsets_after(records: Sequence[Record]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


async def _commit(
    producer: AIOKafkaProducer,
    group: str,
    topic: str,
    results: list[LLMResult],
    offsets: dict[TopicPartition, int],
) -> None:
    """The chunk's results and the group's offsets past it: all visible, or none. On an
    interruption (Ctrl-C) or failure nothing of the chunk becomes visible and a re-run
    redoes it; a failed abort is ended by the next run's producer start."""
    outputs = (Output(topic, encode(r), r.request_id.encode()) for r in results)
    await commit_transaction(producer, outputs, offsets, group)

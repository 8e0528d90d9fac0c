"""Reading fixed ranges of topics: what `llmrouter replay` and `llmrouter report` share.

A range is a half-open span of offsets `[start, end)` per partition, fixed before reading
starts — from explicit offsets, from `offsets_for_times`, or from the end offsets at that
moment — so that a read always terminates however fast the topic keeps growing. Readers
use `read_committed`: an aborted or still-open transaction's messages are never seen, and
the end offset is the last stable offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from llmrouter.core.errors import ConfigError, KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors
from llmrouter.kafkaio.settings import KafkaSettings

__all__ = [
    "Span",
    "clamp_spans",
    "describe_spans",
    "first_timestamp_ms",
    "new_reader",
    "offsets_at",
    "parse_when",
    "partitions_of",
    "read_records",
    "read_spans",
    "reader",
    "spans_between",
    "start_group_at_end",
    "time_spans",
    "topic_partitions",
    "topics_matching",
    "whole_topic",
]

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: how long a topic created a moment ago may take to appear in the metadata
_METADATA_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets `[start, end)` of one partition."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """`2024-05-01T12:00:00Z` (a time without zone is UTC), or `30m` / `2h` / `1d` ago."""
    now = now or datetime.now(UTC)
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - timedelta(seconds=float(relative[1]) * _UNITS[relative[2]])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"cannot read the time {text!r}: use ISO 8601 (2024-05-01T12:00:00Z) "
            "or an age such as 30m, 2h, 1d"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def new_reader(kafka: KafkaSettings, *, group_id: str | None = None) -> AIOKafkaConsumer:
    """A consumer for manual assignment. Without `group_id` it belongs to no group, so it
    can never move anybody's offsets; with one, it can read that group's commits."""
    return AIOKafkaConsumer(
        **kafka.client_kwargs(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )


@contextlib.asynccontextmanager
async def reader(
    kafka: KafkaSettings, *, group_id: str | None = None
) -> AsyncIterator[AIOKafkaConsumer]:
    """A started `new_reader`, stopped on the way out. One per operation: every client
    started and stopped is one more chance for aiokafka to leak a connection."""
    consumer = new_reader(kafka, group_id=group_id)
    try:
        with kafka_errors(f"cannot connect to Kafka at {kafka.bootstrap_servers}"):
            await consumer.start()
    except KafkaUnavailable:
        with contextlib.suppress(Exception):
            await consumer.stop()
        raise
    # aiokafka's group-less coordinator starts a background task in start(); stopped
    # before that task ever ran, stop() raises CancelledError. One turn of the loop lets it run.
    await asyncio.sleep(0)
    try:
        yield consumer
    finally:
        await consumer.stop()


async def partitions_of(
    consumer: AIOKafkaConsumer, topics: Sequence[str]
) -> dict[str, list[TopicPartition]]:
    """Every partition of each topic; KafkaUnavailable naming one that does not exist."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _METADATA_WAIT_S
    while True:
        # One answer about every topic (the client's cached metadata covers only what it
        # tracks); a topic created a moment ago may take a few tries to appear.
        cluster = await consumer._client.fetch_all_metadata()
        missing = [t for t in topics if not cluster.partitions_for_topic(t)]
        if not missing:
            break
        if loop.time() > deadline:
            raise KafkaUnavailable(f"topic {missing[0]} does not exist")
        await asyncio.sleep(0.2)
    # Track them in the client too, or every offset look-up first waits for a refresh.
    await asyncio.gather(*(consumer._client.add_topic(t) for t in topics))
    return {
        t: [TopicPartition(t, p) for p in sorted(cluster.partitions_for_topic(t))] for t in topics
    }


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    return (await partitions_of(consumer, [topic]))[topic]


async def topics_matching(consumer: AIOKafkaConsumer, pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return sorted(t for t in await consumer.topics() if regex.fullmatch(t))


async def offsets_at(
    consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition], when_ms: int
) -> dict[TopicPartition, int]:
    """The first offset whose timestamp is at or after `when_ms`, per partition; the end
    offset where every message is older."""
    tps = list(partitions)
    if not tps:
        return {}
    found = await consumer.offsets_for_times(dict.fromkeys(tps, when_ms))
    ends = await consumer.end_offsets(tps)
    return {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in tps}


async def time_spans(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    since_ms: int | None,
    until_ms: int | None,
) -> dict[TopicPartition, Span]:
    """Offsets of the messages stamped in `[since, until)`: from the beginning without
    `since`, up to the end offsets of this moment without `until`."""
    tps = list(partitions)
    if not tps:
        return {}
    starts = (
        await offsets_at(consumer, tps, since_ms)
        if since_ms is not None
        else await consumer.beginning_offsets(tps)
    )
    ends = await consumer.end_offsets(tps)
    if until_ms is not None:
        ends = await offsets_at(consumer, tps, until_ms)
    return {tp: Span(starts[tp], max(starts[tp], ends[tp])) for tp in tps}


async def spans_between(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    from_offset: int | None,
    to_offset: int | None,
) -> dict[TopicPartition, Span]:
    """The same offsets `[from_offset, to_offset)` in every partition, clamped to what
    exists now (an open end means the end offsets of this moment)."""
    tps = list(partitions)
    firsts = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    wanted = {
        tp: Span(
            firsts[tp] if from_offset is None else from_offset,
            ends[tp] if to_offset is None else to_offset,
        )
        for tp in tps
    }
    return clamp_spans(wanted, firsts, ends)


def clamp_spans(
    spans: Mapping[TopicPartition, Span],
    firsts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
) -> dict[TopicPartition, Span]:
    """Spans cut to the offsets that exist: retention may have deleted the start, and
    an end beyond the log's end would never be reached."""
    clamped = {}
    for tp, span in spans.items():
        start = min(max(span.start, firsts[tp]), ends[tp])
        clamped[tp] = Span(start, max(start, min(span.end, ends[tp])))
    return clamped


async def read_spans(
    consumer: AIOKafkaConsumer,
    spans: Mapping[TopicPartition, Span],
    *,
    max_records: int | None = None,
) -> AsyncIterator[list[Record]]:
    """Batches of the committed messages inside `spans`, in offset order per partition.

    Ends when every partition's position has reached its span's end. Positions, not
    record counts, decide: transaction markers and aborted messages occupy offsets that
    no record is ever returned for.
    """
    remaining = {tp: span for tp, span in spans.items() if span.size > 0}
    if not remaining:
        return
    consumer.assign(list(remaining))
    for tp, span in remaining.items():
        consumer.seek(tp, span.start)
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=max_records)
        records = [
            record
            for tp, got in batch.items()
            if tp in remaining
            for record in got
            if record.offset < remaining[tp].end
        ]
        for tp in list(remaining):
            if await consumer.position(tp) >= remaining[tp].end:
                del remaining[tp]
                consumer.pause(tp)  # no prefetching past the span
        if records:
            yield records


async def read_records(
    consumer: AIOKafkaConsumer, spans: Mapping[TopicPartition, Span]
) -> AsyncIterator[Record]:
    """Every committed message inside `spans`, one by one (see `read_spans`)."""
    async for records in read_spans(consumer, spans):
        for record in records:
            yield record


async def whole_topic(consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, Span]:
    """Everything on `topic` now: from the first offset kept to the end."""
    partitions = await topic_partitions(consumer, topic)
    firsts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    return {tp: Span(firsts[tp], ends[tp]) for tp in partitions}


def describe_spans(spans: Mapping[TopicPartition, Span]) -> str:
    """`p0 [10, 20) p1 [3, 9)`: for progress lines and messages."""
    parts = [f"p{tp.partition} [{s.start}, {s.end})" for tp, s in sorted(spans.items())]
    return " ".join(parts) or "(no partitions)"


async def first_timestamp_ms(
    consumer: AIOKafkaConsumer, spans: Mapping[TopicPartition, Span]
) -> int | None:
    """The earliest timestamp among the first committed record of each span."""
    firsts: list[int] = []
    remaining = {tp: span for tp, span in spans.items() if span.size > 0}
    assigned = list(remaining)
    consumer.assign(assigned)
    for tp, span in remaining.items():
        consumer.seek(tp, span.start)
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=1)
        for tp, records in batch.items():
            if tp in remaining and records and records[0].offset < remaining[tp].end:
                firsts.append(records[0].timestamp)
                del remaining[tp]  # one record per partition is all we need
        for tp in list(remaining):
            if await consumer.position(tp) >= remaining[tp].end:
                del remaining[tp]
        consumer.pause(*(tp for tp in assigned if tp not in remaining))
    return min(firsts, default=None)


async def start_group_at_end(kafka: KafkaSettings, group_id: str, topics: Sequence[str]) -> None:
    """Commit, for `group_id`, the current end of every partition of `topics`: the group's
    next reader starts there and skips what the topics already hold."""
    consumer = AIOKafkaConsumer(
        **kafka.client_kwargs(), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        await consumer.commit({tp: ends[tp] for tp in parts})
    finally:
        await consumer.stop()

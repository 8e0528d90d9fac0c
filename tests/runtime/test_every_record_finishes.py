"""The runtime finishes every record on a real broker, whatever its handler and its
`on_error` do: an output too large to send goes to `on_error` (the transaction never
sees it), an `on_error` output too large is dropped, and an `on_error` that raises
finishes the record with no output — each counted — so the committed offset moves on."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from llmrouter.core.errors import MessageTooLarge
from llmrouter.kafkaio.admin import DEFAULT_MESSAGE_MAX_BYTES, ensure_topics, message_max_bytes
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.fitting import checked_outputs, error_outputs, record_size_bytes
from llmrouter.runtime.reporting import NoMetrics, UnpublishedReason
from tests.runtime.helpers import publish, read_all, run_until_committed, worker_reading

_TOO_LARGE = b"x" * 2_000_000


class _Counting(NoMetrics):
    def __init__(self) -> None:
        self.unpublished: Counter[str] = Counter()

    def count_unpublished(self, worker: str, reason: UnpublishedReason, outputs: int) -> None:
        self.unpublished[reason] += outputs


async def test_every_record_finishes_whatever_on_error_does(kafka_bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:10]
    source, sink = f"fin-in-{suffix}", f"fin-out-{suffix}"
    await ensure_topics(kafka_bootstrap, {source: 1, sink: 1})
    values = [b"ok-0", b"huge", b"ok-1", b"policy-fails", b"ok-2", b"huge", b"ok-3"]

    async def handler(record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        if record.value == b"policy-fails":
            raise ValueError("unreadable")
        if record.value == b"huge":
            return [Output(sink, _TOO_LARGE)]
        return [Output(sink, record.value)]

    seen: list[tuple[bytes, str]] = []

    def on_error(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
        seen.append((record.value, type(exc).__name__))
        if not isinstance(exc, MessageTooLarge):
            raise RuntimeError("the error policy has a bug")
        # one output that fits, one that does not
        return [Output(sink, b"letter-%d" % record.offset), Output(sink, _TOO_LARGE)]

    metrics = _Counting()
    worker = worker_reading(
        source, f"fin-{suffix}", kafka_bootstrap, handler, on_error, metrics=metrics
    )
    await publish(kafka_bootstrap, source, values)
    await run_until_committed(worker, kafka_bootstrap, TopicPartition(source, 0), len(values))

    assert worker.fatal is None
    assert worker.stats.processed == len(values)
    assert Counter(seen) == Counter(
        {(b"huge", "MessageTooLarge"): 2, (b"policy-fails", "ValueError"): 1}
    )
    assert metrics.unpublished == Counter({"too_large": 2, "error_policy_failed": 1})
    published = await read_all(kafka_bootstrap, sink, expected=6)
    assert Counter(published) == Counter(
        [b"ok-0", b"letter-1", b"ok-1", b"ok-2", b"letter-5", b"ok-3"]
    ), "each record's outputs once; none too large; none of the failed policy"


def test_an_output_over_the_limit_is_refused_before_it_is_planned() -> None:
    small = Output("t", b"v" * 100, b"k")
    limit = record_size_bytes(small)
    assert checked_outputs([small], limit) == [small]
    big = Output("t", b"v" * 100, b"k", headers=(("h", b"w"),))
    with pytest.raises(MessageTooLarge, match="output to t of"):  # headers count
        checked_outputs([small, big], limit)


def test_error_outputs_never_raises() -> None:
    metrics = _Counting()

    def broken(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
        raise KeyError("bug")

    record = ConsumerRecord("t", 0, 7, 0, 0, None, b"v", None, 0, 1, [])
    got = error_outputs(
        broken, record, ValueError("x"), limit_bytes=1000, worker="w", metrics=metrics
    )
    assert got == []
    assert metrics.unpublished == Counter({"error_policy_failed": 1})


async def test_the_brokers_limit_is_read_with_a_fallback(kafka_bootstrap: str) -> None:
    limit = await message_max_bytes(kafka_bootstrap, fallback_bytes=1)
    assert limit > 1000  # read from the broker, not the fallback
    unreachable = await message_max_bytes("127.0.0.1:1", timeout_s=2)
    assert unreachable == DEFAULT_MESSAGE_MAX_BYTES

"""A worker given `at_once` finishes the records whose outputs it knows where it reads
them, without a task (or a handler call) each; the rest go to the handler as before, and
one whose `at_once` raises goes to the handler too (and `on_error` decides). Every record
is published once and the committed offset passes them all, on a real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence

from aiokafka import ConsumerRecord, TopicPartition

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.transactions import Output
from tests.runtime.helpers import publish, read_all, run_until_committed, worker_reading


async def test_records_known_at_once_skip_the_handler(kafka_bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:10]
    source, sink = f"now-in-{suffix}", f"now-out-{suffix}"
    await ensure_topics(kafka_bootstrap, {source: 1, sink: 1})
    # "quiet": nothing to publish, known at once; "echo": published by at_once; "slow":
    # the handler's; "odd": at_once raises, the handler raises, on_error publishes
    values = [b"quiet-%d" % i for i in range(40)]
    values += [b"echo-0", b"slow-0", b"odd-0", b"quiet-x", b"slow-1", b"echo-1"]

    handled: list[bytes] = []
    decided: list[bytes] = []

    def at_once(record: ConsumerRecord[bytes, bytes]) -> Sequence[Output] | None:
        decided.append(record.value)
        if record.value.startswith(b"quiet"):
            return []
        if record.value.startswith(b"echo"):
            return [Output(sink, b"now:" + record.value)]
        if record.value.startswith(b"odd"):
            raise ValueError("cannot tell")
        return None

    async def handler(record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        handled.append(record.value)
        if record.value.startswith(b"odd"):
            raise ValueError("unreadable")
        await asyncio.sleep(0)  # a handler that suspends, as real ones do
        return [Output(sink, b"task:" + record.value)]

    def on_error(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
        return [Output(sink, b"error:" + record.value)]

    worker = worker_reading(
        source, f"now-{suffix}", kafka_bootstrap, handler, on_error, at_once=at_once
    )
    await publish(kafka_bootstrap, source, values)
    await run_until_committed(worker, kafka_bootstrap, TopicPartition(source, 0), len(values))

    assert worker.fatal is None
    assert worker.stats.processed == len(values)
    assert Counter(decided) == Counter(values), "at_once saw each record once"
    assert sorted(handled) == [b"odd-0", b"slow-0", b"slow-1"], "only the rest went to the handler"
    published = await read_all(kafka_bootstrap, sink, expected=5)
    assert Counter(published) == Counter(
        [b"now:echo-0", b"now:echo-1", b"task:slow-0", b"task:slow-1", b"error:odd-0"]
    ), "each record's outputs once, from at_once, the handler or on_error"

"""On the real broker: a commit whose outcome the worker cannot know is read back, and
nothing is published twice or lost.

The worker's first transactional producer is wrapped: in one case EndTxn completes at the
coordinator but its answer never comes back (the publisher's commit timeout gives up on
it); in the other the connection is lost before EndTxn reaches the coordinator, and the
abort is lost too. Either way the worker must not know what happened, and must find out
from the committed offsets before publishing again. Results are read with read_committed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.worker import TransactionalWorker
from tests.kafka_helpers import MakeConsumer, MakeProducer, MakeTopics

RECORDS = 30


async def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


def _wrap_first_commit(worker: TransactionalWorker, landed: bool) -> list[str]:
    """Make the worker's first producer fail its first commit; returns what happened."""
    producer: Any = worker._publisher._producer
    real_commit = producer.commit_transaction
    real_abort = producer.abort_transaction
    injected: list[str] = []

    async def commit() -> None:
        if injected:
            await real_commit()
            return
        if landed:
            await real_commit()  # committed at the coordinator ...
            injected.append("commit landed, answer lost")
            await asyncio.Event().wait()  # ... and the answer never comes
        injected.append("connection lost before EndTxn")
        raise KafkaConnectionError("injected: connection lost")

    async def abort() -> None:
        if injected == ["connection lost before EndTxn"]:
            raise KafkaConnectionError("injected: connection lost")
        await real_abort()

    producer.commit_transaction = commit
    producer.abort_transaction = abort
    return injected


@pytest.mark.slow
@pytest.mark.parametrize("landed", [True, False], ids=["landed", "not-landed"])
async def test_a_commit_of_unknown_outcome_publishes_each_result_once(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    make_consumer: MakeConsumer,
    unique_name: Callable[[str], str],
    landed: bool,
) -> None:
    requests, results = await make_topics(unique_name("requests"), unique_name("results"))
    source = await make_producer()
    for i in range(RECORDS):
        await source.send(requests, str(i).encode())
    await source.flush()

    async def handler(record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        assert record.value is not None
        return [Output(results, record.value)]

    def on_error(_record: ConsumerRecord[bytes, bytes], exc: Exception) -> list[Output]:
        raise AssertionError(f"the handler failed: {exc!r}")

    options = WorkerOptions(
        name="router",
        group_id=unique_name("group"),
        pattern=f"^{requests}$",
        transactional_id=unique_name("txn"),
        # the commit that lost its answer is given up on after this long
        transaction_timeout_ms=3000,
        grace_s=5.0,
    )
    worker = TransactionalWorker(
        options, KafkaSettings(bootstrap_servers=kafka_bootstrap), handler, on_error
    )
    await worker.start()
    injected = _wrap_first_commit(worker, landed)
    publisher = worker._publisher
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await _wait_until(
            lambda: publisher.found_committed + publisher.found_not_committed == 1,
            60,
            "the commit of unknown outcome was read back",
        )
        await _wait_until(
            lambda: worker.stats.processed == RECORDS and worker.uncommitted == 0,
            60,
            "every record was committed",
        )
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)

    assert injected == (
        ["commit landed, answer lost"] if landed else ["connection lost before EndTxn"]
    )
    assert (publisher.found_committed, publisher.found_not_committed) == (
        (1, 0) if landed else (0, 1)
    )
    reader = await make_consumer(results, isolation_level="read_committed")
    tp = TopicPartition(results, 0)
    end = (await reader.end_offsets([tp]))[tp]  # the last stable offset
    seen: Counter[bytes] = Counter()
    while await reader.position(tp) < end:
        for record in (await reader.getmany(tp, timeout_ms=1000)).get(tp, []):
            assert record.value is not None
            seen[record.value] += 1
    assert seen == Counter(str(i).encode() for i in range(RECORDS)), "each result exactly once"

"""`llmrouter_consumer_lag` counts from the group's committed offset: a record stuck in its
handler shows as lag that grows with every record behind it, even when those finish."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRecord

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.worker import TransactionalWorker
from llmrouter.workers.health import Readiness
from llmrouter.workers.metrics import Metrics
from tests.kafka_helpers import MakeProducer, MakeTopics


async def _until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    """Poll `condition` until it holds (a probe's view, as /metrics gets it)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


async def test_a_stuck_record_shows_as_growing_lag(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    unique_name: Callable[[str], str],
) -> None:
    (topic,) = await make_topics(unique_name("lag"))
    release = asyncio.Event()
    started = asyncio.Event()
    finished: list[int] = []

    async def handler(record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        if record.value == b"stuck":
            started.set()
            await release.wait()
        finished.append(record.offset)
        return []

    worker = TransactionalWorker(
        WorkerOptions(
            name="router",
            group_id=unique_name("group"),
            pattern=f"^{topic}$",
            transactional_id=unique_name("txn"),
        ),
        KafkaSettings(bootstrap_servers=kafka_bootstrap),
        handler,
        lambda _record, _exc: [],
    )
    metrics = Metrics()
    # /readyz calls a worker stuck when it has lag and fetched and committed nothing for
    # this long: a blocked record with nothing else arriving is just that.
    readiness = Readiness(worker, metrics, stuck_after_s=1.0)

    async def stuck() -> bool:
        await readiness.probe()
        return any(reason.startswith("stuck: lag 8") for reason in readiness.reasons)

    async def lag() -> float:
        await readiness.probe()
        value = metrics.registry.get_sample_value(
            "llmrouter_consumer_lag", {"worker": "router", "topic": topic, "partition": "0"}
        )
        return -1.0 if value is None else value

    # The first batch is written in a transaction: its commit marker takes an offset that
    # no consumer sees and no commit covers; a caught-up partition must still show 0.
    producer = await make_producer(transactional_id=unique_name("feed"))
    async with producer.transaction():
        for i in range(3):
            await producer.send(topic, f"warm-up {i}".encode())
    await worker.start()
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await _until(lambda: _true(len(finished) == 3 and worker.uncommitted == 0))
        await _until(lambda: _eq(lag(), 0.0))

        plain = await make_producer()
        await plain.send_and_wait(topic, b"stuck")
        async with asyncio.timeout(60):
            await started.wait()
        for i in range(4):
            await plain.send_and_wait(topic, f"after {i}".encode())
        # The four behind the stuck one finish and are published; the lag counts them all.
        await _until(lambda: _true(len(finished) == 7 and worker.uncommitted == 1))
        await _until(lambda: _eq(lag(), 5.0))
        assert worker.in_flight == 1

        for i in range(3):
            await plain.send_and_wait(topic, f"later {i}".encode())
        await _until(lambda: _true(len(finished) == 10))
        await _until(lambda: _eq(lag(), 8.0))
        await _until(stuck)

        release.set()
        await _until(lambda: _true(worker.uncommitted == 0))
        await _until(lambda: _eq(lag(), 0.0))
        assert not readiness.reasons
    finally:
        release.set()
        stop.set()
        await running


async def _true(value: bool) -> bool:
    return value


async def _eq(value: Awaitable[float], expected: float) -> bool:
    return await value == expected

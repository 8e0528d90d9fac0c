"""What the runtime's broker tests share: a worker reading one topic, records published
to its first partition, the worker run until its group's committed offset passes them all,
and what it published read back."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.worker import TransactionalWorker
from tests.workers.conftest import assign_from_start

__all__ = ["publish", "read_all", "run_until_committed", "worker_reading"]


def worker_reading(
    source: str, name: str, bootstrap: str, handler: Any, on_error: Any, **extra: Any
) -> TransactionalWorker:
    """A worker of group and transactional id `name` reading `source` (`extra`: the
    worker's other arguments, `metrics=` or `at_once=`)."""
    return TransactionalWorker(
        WorkerOptions(
            name=name,
            group_id=name,
            pattern=f"^{re.escape(source)}$",
            transactional_id=name,
            metadata_max_age_ms=1000,
            session_timeout_ms=6000,
        ),
        KafkaSettings(bootstrap_servers=bootstrap),
        handler,
        on_error,
        **extra,
    )


async def publish(bootstrap: str, topic: str, values: Sequence[bytes]) -> None:
    """`values` on `topic`'s first partition, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def run_until_committed(
    worker: TransactionalWorker, bootstrap: str, partition: TopicPartition, count: int
) -> None:
    """Start `worker`, run it until its group's committed offset of `partition` reaches
    `count`, then stop it."""
    group = worker.options.group_id
    await worker.start()
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            async with asyncio.timeout(60):
                while True:
                    offsets = await admin.list_consumer_group_offsets(group)
                    meta = offsets.get(partition)
                    if meta is not None and meta.offset >= count:
                        break
                    await asyncio.sleep(0.1)
        finally:
            await admin.close()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 60)


async def read_all(
    bootstrap: str, topic: str, *, expected: int, settle_s: float = 0.5, timeout_s: float = 30
) -> list[bytes]:
    """Every committed value of `topic`: at least `expected` (within `timeout_s`), and
    whatever came within `settle_s` after them (so a test sees a duplicate too)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await assign_from_start(consumer, [topic])
        values: list[bytes] = []
        async with asyncio.timeout(timeout_s):
            while len(values) < expected:
                batch = await consumer.getmany(timeout_ms=200)
                values += [r.value for part in batch.values() for r in part]
        if settle_s > 0:  # nothing more was published
            extra = await consumer.getmany(timeout_ms=int(settle_s * 1000))
            values += [r.value for part in extra.values() for r in part]
        return values
    finally:
        await consumer.stop()

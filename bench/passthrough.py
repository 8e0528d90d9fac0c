"""The baseline of benchmark (a): the simplest fast consume→produce loop aiokafka allows.

    python -m bench.passthrough --bootstrap B --group G --source T1 --sink T2

A consumer group reads `source` and produces each record unchanged to `sink`, then commits
the batch's offsets. It has the product's producer durability (acks=all, idempotent,
linger 5 ms) but none of its work: no transactions, no parsing, no provider call. Runs
in its own process like the workers do, until SIGTERM; prints `partitions assigned` once it owns
partitions, which is when the benchmark starts its clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener


class _Announce(ConsumerRebalanceListener):  # type: ignore[misc]
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned:
            print(f"partitions assigned: {len(assigned)}", flush=True)


async def passthrough(bootstrap: str, group: str, source: str, sink: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    await consumer.start()
    consumer.subscribe([source], listener=_Announce())
    moved = 0
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            futures = [
                await producer.send(sink, record.value, key=record.key)
                for records in batch.values()
                for record in records
            ]
            if futures:
                await asyncio.gather(*futures)  # delivered before the offsets move past them
                await consumer.commit()
                moved += len(futures)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await producer.stop()
        print(f"stopped after {moved} records", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    args = parser.parse_args()
    asyncio.run(passthrough(args.bootstrap, args.group, args.source, args.sink))


if __name__ == "__main__":
    main()

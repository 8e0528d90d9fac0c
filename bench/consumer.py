"""The at-least-once consumer loop the baseline systems share: bench/plain.py (the openai
SDK, and the raw pass-through) and bench/litellm_consumer.py (a LiteLLM Router).

An aiokafka consumer group reads the requests topic; each record becomes a task (at most
`--concurrency` at once) that answers it and publishes the answer as soon as it has it.
At-least-once: offsets are committed every 200 ms up to the first record not yet
answered, so a crash redoes (and may publish twice) what was in flight. Without an
answering function the loop is the raw pass-through: each record is published unchanged
(after `--delay-ms`, when given: the provider latency without a provider), the floor of
any consumer on this broker.

Standard library, aiokafka and orjson only: it also runs in the LiteLLM virtualenv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

__all__ = ["Answer", "add_arguments", "run", "serve"]

#: a decoded request → the answer's fields (`status`, and `text` or `error`)
Answer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class _Offsets:
    """Per partition: the next offset to commit, and which offsets above it are done."""

    def __init__(self) -> None:
        self.next: dict[TopicPartition, int] = {}
        self.done: dict[TopicPartition, set[int]] = defaultdict(set)

    def seen(self, tp: TopicPartition, offset: int) -> None:
        self.next.setdefault(tp, offset)

    def finish(self, tp: TopicPartition, offset: int) -> None:
        self.done[tp].add(offset)

    def committable(self) -> dict[TopicPartition, int]:
        out: dict[TopicPartition, int] = {}
        for tp, start in self.next.items():
            done, offset = self.done[tp], start
            while offset in done:
                done.discard(offset)
                offset += 1
            if offset != start:
                self.next[tp] = out[tp] = offset
        return out


class _Announce(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, name: str) -> None:
        self._name = name

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        parts = sorted(tp.partition for tp in assigned)
        print(f"{self._name}: partitions assigned {parts}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every baseline consumer takes."""
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True, help="requests to read")
    parser.add_argument("--out", required=True, help="topic the answers go to")
    parser.add_argument("--group", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--base-url", default="", help="OpenAI-protocol endpoint (…/v1)")
    parser.add_argument("--model", default="gpt-3.5-turbo-0125")


async def serve(args: argparse.Namespace, answer: Answer | None, *, name: str) -> None:
    """Consume `args.topic` until cancelled, answering each record with `answer` (None:
    copy it unchanged, after `args.delay_ms` if set)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe([args.topic], listener=_Announce(name))
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    slots = asyncio.Semaphore(args.concurrency)
    offsets = _Offsets()
    tasks: set[asyncio.Task[None]] = set()
    delay_s = (getattr(args, "delay_ms", 0.0) or 0.0) / 1000

    async def reply(value: bytes) -> bytes:
        assert answer is not None
        request = orjson.loads(value)
        result = await answer(request)
        return orjson.dumps({"request_id": request["request_id"], **result})

    async def handle(record: ConsumerRecord[bytes, bytes]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        try:
            if answer is None:  # the pass-through with a provider's latency
                await asyncio.sleep(delay_s)
                value = record.value
            else:
                value = await reply(record.value)
            await (await producer.send(args.out, value, key=record.key))
            offsets.finish(tp, record.offset)
        finally:
            slots.release()

    def copied(tp: TopicPartition, offset: int, delivery: asyncio.Future[Any]) -> None:
        if not delivery.cancelled() and delivery.exception() is None:
            offsets.finish(tp, offset)
        slots.release()

    async def commit_every_200_ms() -> None:
        while True:
            await asyncio.sleep(0.2)
            if ready := offsets.committable():
                await consumer.commit(ready)

    await producer.start()
    await consumer.start()
    committer = asyncio.create_task(commit_every_200_ms())
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            for tp, records in batches.items():
                for record in records:
                    await slots.acquire()
                    offsets.seen(tp, record.offset)
                    if answer is None and not delay_s:  # no task per record: the floor
                        delivery = await producer.send(args.out, record.value, key=record.key)
                        delivery.add_done_callback(partial(copied, tp, record.offset))
                        continue
                    task = asyncio.create_task(handle(record))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
    finally:
        committer.cancel()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, committer, return_exceptions=True)
        await consumer.stop()
        await producer.stop()


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a consumer on asyncio's default loop (as such a consumer is usually written)
    until SIGTERM or Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main)

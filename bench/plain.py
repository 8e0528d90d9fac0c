"""`python -m bench.plain`: what a team would write instead of the pipeline, as a baseline.

An aiokafka consumer group reads the requests topic; each record becomes a task (at most
`--concurrency` at once) that renders the prompt, calls `openai.AsyncOpenAI` (typed
`chat.completions.create`, on the SDK's recommended aiohttp transport) and publishes the
answer as soon as it has it. At-least-once: offsets are committed every 200 ms up to the
first record not yet answered, so a crash redoes (and may publish twice) what was in
flight. It runs on asyncio's default loop, as such a consumer is usually written.
`--passthrough` publishes each record unchanged instead of calling a model: the
floor of any consumer on this broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import defaultdict
from functools import partial
from typing import Any

import httpx2
import openai
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from bench.workload import SUPPORT_SYSTEM, SUPPORT_TEMPLATE
from llmrouter.router.providers.transport import POOL_SIZE


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
    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        parts = sorted(tp.partition for tp in assigned)
        print(f"plain consumer: partitions assigned {parts}", flush=True)


async def serve(args: argparse.Namespace) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe([args.topic], listener=_Announce())
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    client = openai.AsyncOpenAI(
        base_url=args.base_url,
        api_key="sk-bench",
        max_retries=0,
        # The SDK's recommended transport, with a pool as large as the router's (the
        # default keeps 100 connections, too few for thousands of calls in flight).
        http_client=openai.DefaultAioHttpClient(
            limits=httpx2.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        ),
    )
    slots = asyncio.Semaphore(args.concurrency)
    offsets = _Offsets()
    tasks: set[asyncio.Task[None]] = set()

    async def answer(value: bytes) -> bytes:
        request = orjson.loads(value)
        context = defaultdict(str, request.get("context") or {})
        prompt = SUPPORT_TEMPLATE.format_map(context | {"question": request["input"]})
        try:
            response = await client.chat.completions.create(
                model=args.model,
                messages=[
                    {"role": "system", "content": SUPPORT_SYSTEM},
                    {"role": "user", "content": prompt},
                ],
                max_completion_tokens=512,
                temperature=0.2,
                timeout=30,
            )
            result = {"status": "ok", "text": response.choices[0].message.content}
        except openai.OpenAIError as exc:
            result = {"status": "failed", "error": type(exc).__name__}
        return orjson.dumps({"request_id": request["request_id"], **result})

    async def handle(record: ConsumerRecord[bytes, bytes]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        try:
            value = await answer(record.value)
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
                    if args.passthrough:  # no task per record: the floor of a consumer
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
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.plain", description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True, help="requests to read")
    parser.add_argument("--out", required=True, help="topic the answers go to")
    parser.add_argument("--group", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--base-url", default="", help="OpenAI-protocol endpoint (…/v1)")
    parser.add_argument("--model", default="gpt-3.5-turbo-0125")
    parser.add_argument("--passthrough", action="store_true", help="copy records, no calls")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))  # the default loop, as such a consumer would be written


if __name__ == "__main__":
    main()

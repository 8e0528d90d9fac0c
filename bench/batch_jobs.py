"""`python -m bench.batch_jobs [--per-task N] [--realtime-per-task M] [--max-requests K]`:
batch-priority requests of two tasks (one on an OpenAI model, one on an Anthropic model,
both with `batch_api`) through the providers' batch APIs on the simulator (its own
process), with realtime traffic alongside, on the local broker. Prints how long until
every request was answered, how many jobs, and checks each request answered once, at the
batch price, billed once by the simulator. The simulator is not a provider: its jobs end
as soon as they are looked at, so the figures measure the router's side only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.harness import local_broker
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import BATCH_PRICE_MARK
from llmrouter.schemas import LLMRequest, LLMResult, Priority, decode, encode, requests_topic
from llmrouter.schemas.topics import results_topic, router_topics
from llmrouter.workers.launch import WorkerSettings, run_workers

CONFIG = """
defaults: {{max_output_tokens: 64, timeout_s: 30}}
models:
  oa:
    provider: openai
    model_id: gpt-4o-mini
    batch_api: {{max_requests: {max_requests}, max_wait_s: 2, poll_s: 0.5}}
  an:
    provider: anthropic
    model_id: claude-3-haiku-20240307
    batch_api: {{max_requests: {max_requests}, max_wait_s: 2, poll_s: 0.5}}
tasks:
  {ta}: {{route: {{strategy: static, model: oa}}}}
  {tb}: {{route: {{strategy: static, model: an}}}}
"""


_PARTITIONS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _simulator() -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmrouter.simulator",
        "--port",
        str(port),
        "--latency-ms",
        "0",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return proc, url
            await asyncio.sleep(0.1)
    raise SystemExit("simulator did not start")


async def _produce(
    producer: AIOKafkaProducer, task: str, n: int, batch: bool, tag: str
) -> list[str]:
    ids = []
    for i in range(n):
        rid = f"{tag}-{i}"
        request = LLMRequest(
            request_id=rid,
            task=task,
            input=f"question {tag} {i}",
            priority=Priority.BATCH if batch else Priority.REALTIME,
        )
        await producer.send(requests_topic(task), encode(request), key=rid.encode())
        ids.append(rid)
    await producer.flush()
    return ids


async def _results(
    bootstrap: str, topics: list[str], expected: int, timeout_s: float
) -> list[LLMResult]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(_PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        got: list[LLMResult] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got += [decode(r.value, LLMResult) for r in records]
        return got
    finally:
        await consumer.stop()


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        await admin.delete_topics(names)
    finally:
        await admin.close()


async def main(per_task: int, realtime_per_task: int, max_requests: int) -> dict[str, Any]:
    bootstrap, _ = await local_broker()
    sim, url = await _simulator()
    os.environ["LLMROUTER_SIMULATOR_URL"] = url
    suffix = uuid.uuid4().hex[:8]
    ta, tb = f"bench-ta-{suffix}", f"bench-tb-{suffix}"
    config = parse_config(CONFIG.format(ta=ta, tb=tb, max_requests=max_requests))
    batches_topic = f"llm.batches.bench-{suffix}"
    settings = WorkerSettings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        instance_id=f"bench-{suffix}",
        group_prefix=f"bench-{suffix}-",
        tasks_pattern=f".*-{suffix}",
        metrics_port=-1,
        batches_topic=batches_topic,
        partitions=_PARTITIONS,
        max_in_flight=512,
    )
    stop, ready = asyncio.Event(), asyncio.Event()
    run = asyncio.create_task(
        run_workers(["classifier", "router", "batch"], config, settings, stop=stop, ready=ready)
    )
    await asyncio.wait_for(ready.wait(), 120)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        started = time.monotonic()
        batch_ids = await _produce(producer, ta, per_task, True, "ba")
        batch_ids += await _produce(producer, tb, per_task, True, "bb")
        realtime_ids = await _produce(producer, ta, realtime_per_task, False, "ra")
        realtime_ids += await _produce(producer, tb, realtime_per_task, False, "rb")
        produced_s = time.monotonic() - started
        total = len(batch_ids) + len(realtime_ids)
        results = await _results(bootstrap, [results_topic(ta), results_topic(tb)], total, 900)
        answered_s = time.monotonic() - started
    finally:
        await producer.stop()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 60)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/_sim/calls") as response:
            journal = await response.json()
        async with http.get(f"{url}/_sim/batches") as response:
            jobs = (await response.json())["jobs"]
    sim.terminate()
    await sim.wait()
    await _delete_topics(
        bootstrap,
        [*router_topics([ta, tb]).keys() - {"llm.costs", "llm.dlq", "llm.feedback"}, batches_topic],
    )
    counts = Counter(r.request_id for r in results)
    billed = Counter(c["api"] for c in journal["calls"] if c["outcome"] == "ok")
    batched = [r for r in results if (r.attempts[-1].price_source or "").endswith(BATCH_PRICE_MARK)]
    return {
        "batch requests": len(batch_ids),
        "realtime requests": len(realtime_ids),
        "results": len(results),
        "answered once each": set(counts) == {*batch_ids, *realtime_ids}
        and set(counts.values()) == {1},
        "at the batch price": len(batched),
        "produced in s": round(produced_s, 1),
        "all answered in s": round(answered_s, 1),
        "provider jobs": len(jobs),
        "billed through batches": billed["openai-batch"] + billed["anthropic-batch"],
        "billed realtime": billed["openai"] + billed["anthropic"],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.batch_jobs")
    parser.add_argument("--per-task", type=int, default=2500)
    parser.add_argument("--realtime-per-task", type=int, default=50)
    parser.add_argument("--max-requests", type=int, default=1000)
    args = parser.parse_args()
    figures = asyncio.run(main(args.per_task, args.realtime_per_task, args.max_requests))
    for name, value in figures.items():
        print(f"| {name} | {value} |")

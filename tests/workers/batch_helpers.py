"""Shared parts of the batch-job tests: the config, producing requests, reading results."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import (
    COSTS_TOPIC,
    CostEvent,
    LLMRequest,
    Priority,
    decode,
    encode,
    requests_topic,
)
from llmrouter.workers.kinds import WorkerKind
from llmrouter.workers.launch import WorkerSettings, run_workers
from tests.kafka_helpers import free_port

BATCH_CONFIG = """
defaults:
  max_output_tokens: 64
  timeout_s: 30
  retry: {{rate_limited: 3, server_error: 3, timeout: 1}}
models:
  oa:
    provider: openai
    model_id: gpt-4o-mini
    batch_api: {{max_requests: {max_requests}, max_wait_s: 0.5, poll_s: 0.2, fallback: realtime}}
  an:
    provider: anthropic
    model_id: claude-3-haiku-20240307
    batch_api: {{max_requests: {max_requests}, max_wait_s: 0.5, poll_s: 0.2, fallback: {an_fallback}}}
tasks:
  {ta}:
    route: {{strategy: static, model: oa}}
  {tb}:
    route: {{strategy: static, model: an}}
"""


@dataclass
class BatchSetup:
    bootstrap: str
    suffix: str
    tasks: dict[str, str]
    config_text: str
    topic: str

    @property
    def group_prefix(self) -> str:
        return f"b{self.suffix}-"

    def settings(self, **overrides: Any) -> WorkerSettings:
        values: dict[str, Any] = {
            "kafka": KafkaSettings(bootstrap_servers=self.bootstrap),
            "instance_id": f"{self.group_prefix}i",
            "max_in_flight": 256,
            "grace_s": 5.0,
            "group_prefix": self.group_prefix,
            "metadata_max_age_ms": 1000,
            "metrics_port": -1,
            "tasks_pattern": f".*-{self.suffix}",
            "session_timeout_ms": 6000,
            "batches_topic": self.topic,
            "partitions": 2,
        }
        values.update(overrides)
        return WorkerSettings(**values)


def batch_setup(
    bootstrap: str, *, max_requests: int = 400, an_fallback: str = "realtime"
) -> BatchSetup:
    suffix = uuid.uuid4().hex[:10]
    tasks = {"ta": f"ta-{suffix}", "tb": f"tb-{suffix}"}
    text = BATCH_CONFIG.format(max_requests=max_requests, an_fallback=an_fallback, **tasks)
    return BatchSetup(bootstrap, suffix, tasks, text, f"llm.batches.{suffix}")


@contextlib.asynccontextmanager
async def running(
    setup: BatchSetup, kinds: Iterable[WorkerKind], **overrides: Any
) -> AsyncIterator[None]:
    stop, ready = asyncio.Event(), asyncio.Event()
    config = parse_config(setup.config_text)
    task = asyncio.create_task(
        run_workers(list(kinds), config, setup.settings(**overrides), stop=stop, ready=ready)
    )
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
    assert waiter in done, "workers did not start within 60 s"
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 60)


async def produce(
    producer: AIOKafkaProducer, task: str, count: int, *, batch: bool, prefix: str, text: str = ""
) -> list[str]:
    ids = []
    for i in range(count):
        rid = f"{prefix}-{i}"
        request = LLMRequest(
            request_id=rid,
            task=task,
            input=f"{text}question {prefix} number {i}",
            priority=Priority.BATCH if batch else Priority.REALTIME,
        )
        await producer.send(requests_topic(task), encode(request), key=rid.encode())
        ids.append(rid)
    await producer.flush()
    return ids


@contextlib.asynccontextmanager
async def simulator_process() -> AsyncIterator[str]:
    """A simulator in a process of its own (thousands of batch requests answered at once
    would hold up this test's event loop, and its Kafka clients with it); its URL."""
    port = free_port()
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
    try:
        async with asyncio.timeout(30), aiohttp.ClientSession() as http:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)  # the port opens when the server is up
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def sim_get(url: str, path: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(f"{url}{path}") as response:
        return await response.json()


async def costs_end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    """Where `llm.costs` ends now: a test reads its own cost events from there (the shared
    broker's topic holds every earlier test's)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(COSTS_TOPIC, p) for p in consumer.partitions_for_topic(COSTS_TOPIC)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        return ends
    finally:
        await consumer.stop()


async def read_costs(
    bootstrap: str,
    since: dict[TopicPartition, int],
    request_ids: Iterable[str],
    *,
    until: Callable[[list[CostEvent]], bool],
    timeout_s: float = 60.0,
) -> list[CostEvent]:
    """The committed cost events of `request_ids` after `since`, until `until(events)`
    holds, then a second's more reading to catch any published twice."""
    keys = {rid.encode() for rid in request_ids}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        events: list[CostEvent] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        satisfied_at: float | None = None
        while True:
            now = loop.time()
            if satisfied_at is None and until(events):
                satisfied_at = now
            if satisfied_at is not None and now - satisfied_at > 1.0:
                return events
            if now > deadline:
                raise AssertionError(f"timed out with {len(events)} cost events of ours")
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                events += [decode(r.value, CostEvent) for r in records if r.key in keys]
    finally:
        await consumer.stop()

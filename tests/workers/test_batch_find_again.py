"""A job found again by its size alone (Anthropic's list: no metadata) and taken for ours
while it ran is checked when it ends, on the real broker and the simulator's Message
Batches API through the real SDK: its custom ids are another job's, so the job goes back
to `open`, is looked for again, created, and answered once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import timedelta

import anthropic
import pytest
from aiokafka import AIOKafkaConsumer

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.batch_anthropic import AnthropicBatchClient
from llmrouter.router.providers.batch_base import BatchLine, custom_id
from llmrouter.schemas import ClassifiedRequest, LLMResult, Priority, decode, encode, utc_now
from llmrouter.schemas.batches import BatchEntry, BatchJob, BatchJobState, entry_key, job_key
from llmrouter.schemas.topics import results_topic
from llmrouter.simulator import SimConfig, create_app
from llmrouter.simulator import running as sim_running
from llmrouter.simulator.app import engine_of
from llmrouter.simulator.batches import store_of
from llmrouter.workers.batch.publish import BATCH_PRICE_MARK
from llmrouter.workers.batch.worker import BatchWorker
from tests.kafka_helpers import MakeProducer, MakeTopics
from tests.workers.conftest import read_topic

pytestmark = pytest.mark.asyncio

CONFIG = """
models:
  an:
    provider: anthropic
    model_id: claude-3-haiku-20240307
    batch_api: {{max_wait_s: 0.2, poll_s: 0.2, fallback: fail}}
tasks:
  {task}:
    route: {{strategy: static, model: an}}
"""


def _body(text: str) -> dict[str, object]:
    return {
        "model": "claude-3-haiku-20240307",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": text}],
    }


async def test_a_job_taken_by_its_size_is_checked_when_it_ends(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    suffix = uuid.uuid4().hex[:10]
    task, topic = f"fa-{suffix}", f"llm.batches.{suffix}"
    await make_topics(topic, results_topic(task))
    app = create_app(SimConfig(latency_ms=0, seed=4))
    async with sim_running(app=app) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        # another worker's job of the same size, made just after ours was opened
        async with anthropic.AsyncAnthropic(base_url=url, api_key="sk-t") as sdk:
            other = await AnthropicBatchClient(sdk, model="m").create(
                "other",
                [BatchLine(custom_id("other", i), _body(f"other question {i}")) for i in range(2)],
            )
        # the partition as a worker that crashed left it: two entries, and their job
        # recorded with that batch (found by its size while it ran)
        producer = await make_producer()
        ids = [f"fa-{i}" for i in range(2)]
        for i, rid in enumerate(ids):
            origin = f"llm.classified.{task}:0:{i}"
            entry = BatchEntry(
                request=ClassifiedRequest(
                    request_id=rid, task=task, input=f"our question {i}", priority=Priority.BATCH
                ),
                model="an",
                provider="anthropic",
                route="static:an batch-api",
                body=_body(f"our question {i}"),
                origin=origin,
            )
            await producer.send_and_wait(topic, encode(entry), key=entry_key(origin), partition=0)
        job = BatchJob(
            job_id=f"llmr-0-0-{suffix[:8]}",
            model="an",
            provider="anthropic",
            state=BatchJobState.SUBMITTED,
            entries=[0, 1],
            created_at=utc_now() - timedelta(minutes=5),
            provider_batch_id=other,
            submitted_at=utc_now() - timedelta(minutes=4),
        )
        await producer.send_and_wait(topic, encode(job), key=job_key(job.job_id), partition=0)

        router = RoutingEngine(parse_config(CONFIG.format(task=task)))
        worker = BatchWorker(
            router,
            KafkaSettings(bootstrap_servers=kafka_bootstrap),
            topic=topic,
            group_id=f"fa-{suffix}-batch",
            tick_s=0.2,
            session_timeout_ms=6000,
        )
        stop = asyncio.Event()
        await worker.start()
        running = asyncio.create_task(worker.run(stop))
        try:
            results = await read_topic(
                kafka_bootstrap,
                [results_topic(task)],
                LLMResult,
                until=lambda got: len(got) >= len(ids),
                timeout_s=60,
            )
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running, 30)
            await router.aclose()
        made = store_of(app).created
        journal = engine_of(app).journal.calls()

    assert sorted(r.request_id for r in results) == ids
    assert all(r.status.value == "ok" for r in results)
    assert all((r.attempts[-1].price_source or "").endswith(BATCH_PRICE_MARK) for r in results)
    # our job was made once, beside the other one; each request billed once
    assert len(made) == 2
    billed = Counter(c.api for c in journal if c.outcome == "ok")
    assert billed == {"anthropic-batch": 4}
    # the job went back to open when the other batch's results were not ours
    states = [j.state for j in await _job_records(kafka_bootstrap, topic, job.job_id)]
    assert states[:2] == [BatchJobState.SUBMITTED, BatchJobState.OPEN]
    assert states[-1] is BatchJobState.DONE


async def _job_records(bootstrap: str, topic: str, job_id: str) -> list[BatchJob]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        jobs: list[BatchJob] = []
        async with asyncio.timeout(30):
            while not jobs or jobs[-1].state is not BatchJobState.DONE:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        if record.key == job_key(job_id) and record.value:
                            jobs.append(decode(record.value, BatchJob))
        return jobs
    finally:
        await consumer.stop()

"""A provider batch job's answers on the real broker, a real redis-server and the
simulator's batch APIs through the real SDKs: each answer charged to its task's daily
budget at the batch price exactly once, even when the job's publish is retried; and one
answer per request id whatever the path (answered already, in a job already, or a copy
with another input)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from llmrouter.kafkaio.transactions import Output
from llmrouter.router.budget import to_micro_usd, utc_today
from llmrouter.router.state.store import StateStore, StoreSettings
from llmrouter.schemas import (
    LLMRequest,
    LLMResult,
    Priority,
    decode,
    encode,
    requests_topic,
    results_topic,
)
from llmrouter.schemas.batches import BatchJob, BatchJobState, is_job_key
from llmrouter.simulator import SimConfig, create_app
from llmrouter.simulator import running as sim_running
from llmrouter.simulator.app import engine_of
from llmrouter.simulator.batches import store_of
from llmrouter.workers.batch.owner import PartitionOwner
from llmrouter.workers.batch.publish import BATCH_PRICE_MARK
from llmrouter.workers.metrics import METRICS
from tests.kafka_helpers import MakeProducer
from tests.workers.batch_helpers import (
    BatchSetup,
    batch_setup,
    costs_end_offsets,
    produce,
    read_costs,
    running,
)
from tests.workers.conftest import read_topic

pytestmark = pytest.mark.asyncio

BUDGETED = """
    budget: {{daily_usd: 100, downgrade_to: {{strategy: static, model: oa}}}}
"""


def _budgeted(setup: BatchSetup) -> BatchSetup:
    """`setup` with a daily budget on task `ta`."""
    ta = setup.tasks["ta"]
    route = f"  {ta}:\n    route: {{strategy: static, model: oa}}\n"
    assert route in setup.config_text
    text = setup.config_text.replace(route, route + BUDGETED.format().lstrip("\n"), 1)
    return BatchSetup(setup.bootstrap, setup.suffix, setup.tasks, text, setup.topic)


def _store(redis_url: str, setup: BatchSetup) -> StateStore:
    """The deployment's state store (its namespace is the group prefix)."""
    return StateStore.connect(
        StoreSettings(url=redis_url), prefix=f"llmrouter:{setup.group_prefix.rstrip('-')}"
    )


async def _day_rebuilt(redis_url: str, setup: BatchSetup) -> None:
    """Mark today's counters rebuilt: a new deployment would otherwise add today's
    `llm.costs` back first, which on the shared test broker holds every test's events."""
    store = _store(redis_url, setup)
    try:
        marker = store.key("budget", utc_today().isoformat(), "rebuilt")
        await store.run(lambda c: c.set(marker, b"done", ex=3600))
    finally:
        await store.aclose()


async def _spent_micro(redis_url: str, setup: BatchSetup, task: str) -> int:
    store = _store(redis_url, setup)
    try:
        key = store.key("budget", utc_today().isoformat(), "spent", task)
        raw = await store.run(lambda c: c.get(key))
        return int(raw or 0)
    finally:
        await store.aclose()


async def test_batch_answers_are_charged_to_the_budget_once_though_the_publish_is_retried(
    kafka_bootstrap: str,
    make_producer: MakeProducer,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_REDIS_URL", redis_url)
    # the first publish of an ended job fails after its answers were charged (a lost
    # transaction, as a crash there): the partition is owned afresh and publishes again
    failed: list[int] = []
    commit = PartitionOwner._commit

    async def flaky(self: PartitionOwner, outputs: Sequence[Output], low_water: int) -> None:
        done = any(
            is_job_key(o.key) and o.value and _job(o.value).state is BatchJobState.DONE
            for o in outputs
        )
        if done and not failed:
            failed.append(len(outputs))
            raise RuntimeError("transaction lost before commit")
        await commit(self, outputs, low_water)

    monkeypatch.setattr(PartitionOwner, "_commit", flaky)
    async with sim_running(SimConfig(latency_ms=0, seed=11)) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        setup = _budgeted(batch_setup(kafka_bootstrap, max_requests=100))
        await _day_rebuilt(redis_url, setup)
        since = await costs_end_offsets(kafka_bootstrap)
        ta = setup.tasks["ta"]
        producer = await make_producer()
        async with running(setup, ["router", "batch"], partitions=1):
            ids = await produce(producer, ta, 12, batch=True, prefix="bud")
            results = await read_topic(
                kafka_bootstrap,
                [results_topic(ta)],
                LLMResult,
                until=lambda got: len(got) >= len(ids),
                timeout_s=90,
            )
        costs = [
            c
            for c in await read_costs(
                kafka_bootstrap, since, ids, until=lambda got: len(got) >= len(ids)
            )
            if c.task == ta
        ]

    assert failed, "the first publish should have been lost"
    assert sorted(r.request_id for r in results) == sorted(ids)
    assert all((r.attempts[-1].price_source or "").endswith(BATCH_PRICE_MARK) for r in results)
    assert Counter(c.request_id for c in costs) == Counter(ids)  # each cost event once
    # the day's counter holds each batch answer once, at the batch price
    expected = sum(to_micro_usd(c.cost_usd) for c in costs)
    assert expected > 0
    assert await _spent_micro(redis_url, setup, ta) == expected


def _job(value: bytes) -> BatchJob:
    return decode(value, BatchJob)


async def _send(
    producer: AIOKafkaProducer, task: str, rid: str, text: str, priority: Priority
) -> None:
    request = LLMRequest(request_id=rid, task=task, input=text, priority=priority)
    await producer.send_and_wait(requests_topic(task), encode(request), key=rid.encode())


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait for `condition` to hold, looking every 50 ms, for at most `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


def _metric(task: str, action: str) -> float:
    value: Any = METRICS.duplicates.labels(task, action)._value.get()
    return float(value)


async def test_one_answer_per_request_id_whatever_the_path(
    kafka_bootstrap: str,
    make_producer: MakeProducer,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_REDIS_URL", redis_url)
    app = create_app(SimConfig(latency_ms=0, seed=12))
    store = store_of(app)
    # the job runs until the copies below were read: then it ends at its next poll
    store.knobs = store.knobs.model_copy(update={"processing_s": 3600.0})
    async with sim_running(app=app) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        setup = batch_setup(kafka_bootstrap, max_requests=100)
        ta = setup.tasks["ta"]
        results_of = [results_topic(ta)]
        producer = await make_producer()
        in_job_before = _metric(ta, "in_batch_job")
        async with running(setup, ["router", "batch"], partitions=1):
            # 1. answered at realtime priority first: a batch-priority copy is a duplicate
            await _send(producer, ta, "d-answered", "question one", Priority.REALTIME)
            await read_topic(
                kafka_bootstrap, results_of, LLMResult, until=lambda got: len(got) >= 1
            )
            await _send(producer, ta, "d-answered", "question one", Priority.BATCH)
            # 2. in a job: a batch copy and a realtime copy get no answer of their own,
            # a copy with another input is a conflict
            await _send(producer, ta, "d-job", "question two", Priority.BATCH)
            await _until(lambda: len(store.created) == 1)  # the job is made
            await _send(producer, ta, "d-job", "question two", Priority.BATCH)
            await _send(producer, ta, "d-job", "question two", Priority.REALTIME)
            await _until(lambda: _metric(ta, "in_batch_job") - in_job_before >= 2)
            await _send(producer, ta, "d-job", "another question", Priority.BATCH)
            got = await read_topic(
                kafka_bootstrap,
                results_of,
                LLMResult,
                until=lambda got: any(r.request_id == "d-job" for r in got),
            )
            store.knobs = store.knobs.model_copy(update={"processing_s": 0.0})
            got = await read_topic(
                kafka_bootstrap,
                results_of,
                LLMResult,
                until=lambda got: sum(1 for r in got if r.request_id == "d-job") >= 2,
                timeout_s=60,
            )
            # 3. after the job answered: a copy gets its answer as a duplicate
            await _send(producer, ta, "d-job", "question two", Priority.BATCH)
            results = await read_topic(
                kafka_bootstrap,
                results_of,
                LLMResult,
                until=lambda got: sum(1 for r in got if r.request_id == "d-job") >= 3,
                timeout_s=60,
            )
        journal = engine_of(app).journal.calls()

    assert len(got) == 4
    by_id: dict[str, list[LLMResult]] = {}
    for result in results:
        by_id.setdefault(result.request_id, []).append(result)
    answered = by_id["d-answered"]
    assert [r.duplicate for r in answered] == [False, True]
    assert answered[1].output == answered[0].output

    job = by_id["d-job"]
    originals = [r for r in job if r.status.value == "ok" and not r.duplicate]
    conflicts = [r for r in job if (r.error or "").startswith("DuplicateConflict")]
    copies = [r for r in job if r.duplicate]
    assert len(originals) == 1, job
    assert (originals[0].attempts[-1].price_source or "").endswith(BATCH_PRICE_MARK)
    assert len(conflicts) == 1, job
    assert "duplicate_conflict" in (conflicts[0].error or "")
    assert len(copies) == 1
    assert copies[0].output == originals[0].output
    assert len(job) == 3
    # the two copies read while the id was in the job got nothing
    assert _metric(ta, "in_batch_job") - in_job_before == 2
    # the provider answered each request id once: one realtime call, one batch request
    billed = Counter(c.api for c in journal if c.outcome == "ok")
    assert billed == {"openai": 1, "openai-batch": 1}

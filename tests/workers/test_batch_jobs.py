"""Batch priority through the providers' batch APIs, on the real broker and the simulator's
batch APIs through the real SDKs: each batch-priority request answered once at the batch
price, realtime requests of the same run answered as usual, unanswered ones down their
fallback."""

from __future__ import annotations

from collections import Counter

import pytest

from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import UsageClasses, price_call
from llmrouter.schemas import LLMResult, results_topic
from llmrouter.simulator import SimConfig, create_app
from llmrouter.simulator import running as sim_running
from llmrouter.simulator.app import engine_of
from llmrouter.simulator.batches import store_of
from llmrouter.workers.batch.publish import BATCH_PRICE_MARK
from tests.kafka_helpers import MakeProducer
from tests.workers.batch_helpers import (
    batch_setup,
    costs_end_offsets,
    produce,
    read_costs,
    running,
    sim_get,
    simulator_process,
)
from tests.workers.conftest import read_topic

pytestmark = pytest.mark.asyncio

BATCH_PER_TASK = 2500  # 5,000 across the two tasks
MAX_REQUESTS = 1000
REALTIME_PER_TASK = 20


async def test_batch_priority_is_answered_once_at_batch_prices(
    kafka_bootstrap: str, make_producer: MakeProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with simulator_process() as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        setup = batch_setup(kafka_bootstrap, max_requests=MAX_REQUESTS)
        ta, tb = setup.tasks["ta"], setup.tasks["tb"]
        since = await costs_end_offsets(kafka_bootstrap)
        producer = await make_producer()
        async with running(setup, ["classifier", "router", "batch"]):
            batch_ids = await produce(producer, ta, BATCH_PER_TASK, batch=True, prefix="ba")
            batch_ids += await produce(producer, tb, BATCH_PER_TASK, batch=True, prefix="bb")
            realtime_ids = await produce(producer, ta, REALTIME_PER_TASK, batch=False, prefix="ra")
            realtime_ids += await produce(producer, tb, REALTIME_PER_TASK, batch=False, prefix="rb")
            total = len(batch_ids) + len(realtime_ids)
            results = await read_topic(
                kafka_bootstrap,
                [results_topic(ta), results_topic(tb)],
                LLMResult,
                until=lambda got: len(got) >= total,
                timeout_s=90,
            )
        costs = await read_costs(
            kafka_bootstrap,
            since,
            [*batch_ids, *realtime_ids],
            until=lambda got: sum(1 for c in got if c.task in (ta, tb)) >= total,
            timeout_s=60,
        )
        journal = (await sim_get(url, "/_sim/calls"))["calls"]
        jobs = (await sim_get(url, "/_sim/batches"))["jobs"]

    by_id = Counter(r.request_id for r in results)
    assert len(results) == total
    assert set(by_id) == {*batch_ids, *realtime_ids}
    assert [(r.request_id, r.error) for r in results if r.status.value != "ok"][:5] == []
    config = parse_config(setup.config_text)
    for result in results:
        attempt = result.attempts[-1]
        batched = result.request_id.startswith("b")
        assert attempt.price_source is not None
        assert attempt.price_source.endswith(BATCH_PRICE_MARK) is batched, result.request_id
        if batched:
            usage = UsageClasses(
                attempt.input_tokens,
                attempt.output_tokens,
                cache_read_tokens=attempt.cache_read_tokens,
                cache_write_tokens=attempt.cache_write_tokens,
                reasoning_tokens=attempt.reasoning_tokens,
            )
            spec = config.models[attempt.model]
            batch_usd, _ = price_call(spec, usage, batch=True)
            standard_usd, _ = price_call(spec, usage)
            assert attempt.cost_usd == batch_usd < standard_usd
    ours = [c for c in costs if c.task in (ta, tb)]
    assert Counter((c.request_id, c.attempt) for c in ours) == Counter(
        (r.request_id, len(r.attempts) - 1) for r in results
    )
    # the provider side: each request billed once, through a batch, each job created once
    billed = Counter(c["api"] for c in journal if c["outcome"] == "ok")
    assert billed["openai-batch"] == BATCH_PER_TASK
    assert billed["anthropic-batch"] == BATCH_PER_TASK
    assert billed["openai"] + billed["anthropic"] == len(realtime_ids)
    assert sum(j["requests"] for j in jobs if j["api"] == "openai") == BATCH_PER_TASK
    assert sum(j["requests"] for j in jobs if j["api"] == "anthropic") == BATCH_PER_TASK
    assert all(j["requests"] <= MAX_REQUESTS for j in jobs)
    opened = [j["metadata"].get("llmrouter_job") for j in jobs if j["api"] == "openai"]
    assert len(opened) == len(set(opened))


async def test_unanswered_requests_go_down_their_fallback(
    kafka_bootstrap: str, make_producer: MakeProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expiring job answers only its first requests; the rest of the OpenAI model's fall
    back to realtime calls (answered once each, at the standard price), the rest of the
    Anthropic model's (`fallback: fail`) get a `failed` result. A request the job errored
    (a 500 the first time its prompt is sent) is answered by its realtime fallback."""
    app = create_app(SimConfig(latency_ms=0, seed=5))
    store = store_of(app)
    store.knobs = store.knobs.model_copy(update={"expire": True, "expire_after": 10})
    async with sim_running(app=app) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        setup = batch_setup(kafka_bootstrap, max_requests=100, an_fallback="fail")
        ta, tb = setup.tasks["ta"], setup.tasks["tb"]
        producer = await make_producer()
        async with running(setup, ["classifier", "router", "batch"]):
            ids = await produce(producer, ta, 30, batch=True, prefix="fa")
            ids += await produce(
                producer, ta, 3, batch=True, prefix="fe", text="[[sim:fault=500*1]]"
            )
            ids += await produce(producer, tb, 30, batch=True, prefix="fb")
            results = await read_topic(
                kafka_bootstrap,
                [results_topic(ta), results_topic(tb)],
                LLMResult,
                until=lambda got: len(got) >= len(ids),
                timeout_s=60,
            )
        journal = engine_of(app).journal.calls()

    assert sorted(r.request_id for r in results) == sorted(ids)
    in_batch = {r.request_id for r in results if _batched(r)}
    by_task = {task: [r for r in results if r.task == task] for task in (ta, tb)}
    # OpenAI's: every request answered, in the job or by its realtime fallback
    assert all(r.status.value == "ok" for r in by_task[ta])
    fallen = [r for r in by_task[ta] if r.request_id not in in_batch]
    assert fallen, "the expiring job should have left requests unanswered"
    assert {r.request_id for r in by_task[ta] if r.request_id.startswith("fe")} <= {
        r.request_id for r in fallen
    }
    billed = Counter(c.api for c in journal if c.outcome == "ok")
    assert billed["openai-batch"] == len(by_task[ta]) - len(fallen)
    assert billed["openai"] == len(fallen)
    # Anthropic's: answered in the job, or failed with the job's reason; never called again
    answered_b = [r for r in by_task[tb] if r.status.value == "ok"]
    failed_b = [r for r in by_task[tb] if r.status.value != "ok"]
    assert all(_batched(r) for r in answered_b)
    assert failed_b
    assert all((r.error or "").startswith("batch: ") for r in failed_b)
    assert billed["anthropic-batch"] == len(answered_b)
    assert billed["anthropic"] == 0


def _batched(result: LLMResult) -> bool:
    source = result.attempts[-1].price_source if result.attempts else None
    return bool(source and source.endswith(BATCH_PRICE_MARK))

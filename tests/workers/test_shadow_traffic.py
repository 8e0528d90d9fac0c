"""Shadow traffic starts only after the live answer is committed: the quality worker reads
the results read_committed, so an answer in an open transaction, or an aborted one, makes
no shadow call; once committed, its request is mirrored to the shadow model, the shadow
answer goes to llm.shadow.<task> and its cost event to llm.costs marked shadow."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from llmrouter.schemas import COSTS_TOPIC, CostEvent, LLMRequest, LLMResult, ResultStatus, encode
from llmrouter.schemas.scores import shadow_topic
from llmrouter.schemas.topics import requests_topic, results_topic
from tests.kafka_helpers import MakeProducer
from tests.workers.quality_helpers import TopicReader, sim_calls, watch_pipeline

QUESTION = "How do I reset my password?"


def _answer(request_id: str, task: str) -> bytes:
    return encode(
        LLMResult(
            request_id=request_id,
            task=task,
            status=ResultStatus.OK,
            output="Click reset.",
            model="alpha",
            cost_usd=Decimal(0),
        )
    )


async def test_shadow_calls_start_only_after_the_live_answer_is_committed(
    kafka_bootstrap: str,
    sim_url: str,
    make_producer: MakeProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    p = await watch_pipeline(
        kafka_bootstrap,
        {
            "route": {"strategy": "static", "model": "alpha"},
            "shadow": {"rate": 1.0, "models": ["beta"], "daily_budget_usd": 5},
        },
    )
    task = p.tasks["watch"]
    beta_id = p.config.models["beta"].model_id
    aborted, committed = f"aborted-{p.suffix}", f"committed-{p.suffix}"
    shadow = TopicReader(kafka_bootstrap, [shadow_topic(task)], LLMResult)
    costs = TopicReader(kafka_bootstrap, [COSTS_TOPIC], CostEvent)
    await p.start(["quality"])
    try:
        plain = await make_producer()
        for rid in (aborted, committed):
            request = LLMRequest(request_id=rid, task=task, input=f"{QUESTION} ({rid})")
            await plain.send_and_wait(requests_topic(task), encode(request), key=rid.encode())
        router = await make_producer(transactional_id=f"fake-router-{p.suffix}")
        await router.begin_transaction()
        await router.send_and_wait(results_topic(task), _answer(aborted, task), key=b"a")
        await router.abort_transaction()
        await router.begin_transaction()
        await router.send_and_wait(results_topic(task), _answer(committed, task), key=b"c")
        # the answer is in the log but not committed: no shadow call yet
        assert not [c for c in await sim_calls(sim_url) if c["model"] == beta_id]
        committed_at = time.monotonic()
        await router.commit_transaction()

        await shadow.start()
        await shadow.until(lambda found: len(found) >= 1)
        await costs.start()
        await costs.until(lambda found: any(e.request_id == committed for e in found))
    finally:
        await p.stop_all()
        await shadow.stop()
        await costs.stop()
    mirrored = shadow.messages
    assert [r.request_id for r in mirrored] == [committed]  # never the aborted answer
    assert mirrored[0].source == "shadow"
    assert mirrored[0].model == "beta"
    assert mirrored[0].status is ResultStatus.OK
    calls = [c for c in await sim_calls(sim_url) if c["model"] == beta_id]
    assert len(calls) == 1
    assert calls[0]["started_at"] >= committed_at  # one clock: the simulator runs in process
    events = [e for e in costs.messages if e.request_id == committed]
    assert events
    assert all(e.shadow and e.model == "beta" for e in events)
    assert sum(e.cost_usd for e in events) == mirrored[0].cost_usd > 0

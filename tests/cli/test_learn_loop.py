"""The loop end to end on the real broker and the simulator: traffic with live and shadow
answers and label feedback → `llmrouter learn collect` → `llmrouter learn train` → a
`strategy: learned` route on the trained file routes requests; a retrained file is picked
up by a config reload (what SIGHUP runs)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from llmrouter import cli
from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.outcomes import read_outcomes
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.producers import RequestProducer
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import (
    FEEDBACK_TOPIC,
    Attempt,
    AttemptOutcome,
    LLMRequest,
    LLMResult,
    ResultStatus,
    encode,
    requests_topic,
    results_topic,
)
from llmrouter.schemas.scores import shadow_topic
from llmrouter.workers.lifecycle import ConfigReloader
from tests.factories import catalog, routing_config
from tests.kafka_helpers import MakeProducer, MakeTopics

#: what each model answers per prompt family: "cheap" is right on greetings only
RIGHT = {("cheap", "greeting"): True, ("cheap", "proof"): False}
COST_USD = {"cheap": "0.00001", "big": "0.0003"}


def _answer(rid: str, task: str, model: str, right: bool, source: str) -> LLMResult:
    cost = Decimal(COST_USD[model])
    attempt = Attempt(model=model, outcome=AttemptOutcome.OK, latency_ms=1.0, cost_usd=cost)
    return LLMResult.model_validate(
        {
            "request_id": rid,
            "task": task,
            "status": ResultStatus.OK,
            "output": f'{{"label": "{"good" if right else "wrong"}"}}',
            "model": model,
            "attempts": [attempt],
            "cost_usd": cost,
            "source": source,
        }
    )


def _learned_config(task: str, router: Path) -> str:
    route = {
        "strategy": "learned",
        "router": str(router),
        "cost_weight": 100.0,
        "models": {"cheap": "cheap", "big": "big"},
        "fallback": ["big"],
    }
    return routing_config(
        defaults={"cache": {"enabled": False}},
        models=catalog("cheap", "big"),
        tasks={task: {"route": route}},
    )


async def _cli(*args: str) -> None:
    assert await asyncio.to_thread(cli.run, list(args)) == 0


async def test_collect_train_and_route_on_the_trained_file(
    kafka_bootstrap: str,
    sim_url: str,
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    task = f"loop-{uuid.uuid4().hex[:10]}"
    await make_topics(requests_topic(task), results_topic(task), shadow_topic(task), partitions=2)
    await ensure_topics(kafka_bootstrap, {FEEDBACK_TOPIC: 3})
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    rng = random.Random(5)
    producer = await make_producer()
    sent = []
    ids = []
    for family in ("greeting", "proof"):
        for i in range(30):
            rid = f"{family}-{i}-{uuid.uuid4().hex[:6]}"
            ids.append(rid)
            request = LLMRequest(request_id=rid, task=task, input=syn.prompt(family, rng))
            live = _answer(rid, task, "cheap", RIGHT[("cheap", family)], "live")
            shadow = _answer(rid, task, "big", True, "shadow")
            for topic, message in (
                (requests_topic(task), request),
                (results_topic(task), live),
                (shadow_topic(task), shadow),
            ):
                sent.append(await producer.send(topic, encode(message), key=rid.encode()))
    await asyncio.gather(*sent)
    async with RequestProducer.from_env(kafka_bootstrap) as client:
        await asyncio.gather(*(client.send_feedback(rid, task=task, label="good") for rid in ids))

    outcomes_file, router_file = tmp_path / "outcomes.jsonl", tmp_path / "router.json"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    await _cli("learn", "collect", "--since", since, "--tasks", task, "--out", str(outcomes_file))
    collected = read_outcomes(outcomes_file)
    assert len(collected) == 60
    assert sorted(collected.models) == ["big", "cheap"]
    await _cli("learn", "train", "--outcomes", str(outcomes_file), "--out", str(router_file))

    config_file = tmp_path / "routing.yaml"
    config_file.write_text(_learned_config(task, router_file), encoding="utf-8")
    engine = RoutingEngine(parse_config(config_file.read_text(encoding="utf-8")))
    reloader = ConfigReloader(config_file, [], engine)
    try:
        chosen = {}
        for family in ("greeting", "proof"):
            request = LLMRequest(
                request_id=uuid.uuid4().hex, task=task, input=syn.prompt(family, rng)
            )
            result = (await reloader.router.route(request)).result
            assert result.status is ResultStatus.OK, result.error
            assert result.model == result.learned_choice
            chosen[family] = result.learned_choice
        assert chosen == {"greeting": "cheap", "proof": "big"}

        # Retrained on outcomes where only the big model is ever right, the reloaded
        # route sends greetings to it too: the reload re-read the router file.
        flipped = tmp_path / "flipped.jsonl"
        lines = outcomes_file.read_text(encoding="utf-8").splitlines()
        cheap_wrong = [
            line.replace('"model":"cheap","score":1.0', '"model":"cheap","score":0.0')
            for line in lines
        ]
        flipped.write_text("\n".join(cheap_wrong) + "\n", encoding="utf-8")
        await _cli("learn", "train", "--outcomes", str(flipped), "--out", str(router_file))
        assert await reloader.reload() is True
        request = LLMRequest(
            request_id=uuid.uuid4().hex, task=task, input=syn.prompt("greeting", rng)
        )
        assert (await reloader.router.route(request)).result.learned_choice == "big"
    finally:
        await reloader.aclose()
        await reloader.router.aclose()

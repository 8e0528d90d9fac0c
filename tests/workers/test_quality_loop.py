"""The quality loop end to end, on the real broker, Redis and the simulator: two models
answer an adaptive route, the online judge grades every answer (and beta's shadow answers
to half the requests), the quality worker turns the scores into posteriors in the store and
live quality; then one model's quality drops. The route moves most traffic away from it
within a bounded number of requests, the drift metric the PrometheusRule reads turns 1,
and the report says DRIFT for that model alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.operations.quality_watch import build_quality_watch, collect_watch, render_watch
from llmrouter.schemas import LLMRequest, LLMResult, encode, loads
from llmrouter.schemas.topics import requests_topic, results_topic
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.quality.build import QUALITY_GROUP
from llmrouter.workers.quality.sampling import sampled
from tests.kafka_helpers import MakeProducer
from tests.workers.quality_helpers import (
    TopicReader,
    set_sim_model,
    skip_history,
    wait_for,
    watch_pipeline,
)

EXAMPLES: list[dict[str, Any]] = loads(
    (Path(__file__).resolve().parents[2] / "evalsets" / "customer-support-qa.json").read_bytes()
)["examples"]
ROUND = 10
BEFORE = 6  # rounds before the drop
AFTER = 12  # rounds after it


def _scores_read(task: str) -> float:
    total = 0.0
    for metric in METRICS.registry.collect():
        if metric.name == "llmrouter_quality_scores":
            total += sum(
                s.value
                for s in metric.samples
                if s.name.endswith("_total") and s.labels.get("task") == task
            )
    return total


def _at_least(count: int) -> Callable[[list[Any]], bool]:
    return lambda found: len(found) >= count


def _scores_reach(task: str, count: int) -> Callable[[], bool]:
    return lambda: _scores_read(task) >= count


@pytest.mark.timeout(300)  # rounds of calls, scores and posteriors: up to ~2 min loaded
async def test_a_quality_drop_moves_adaptive_traffic_and_raises_the_drift_alert(
    kafka_bootstrap: str,
    sim_url: str,
    redis_url: str,
    make_producer: MakeProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    p = await watch_pipeline(
        kafka_bootstrap,
        {
            "prompt": {"template": "{input}"},
            "route": {
                "strategy": "adaptive",
                "models": ["alpha", "beta"],
                "exploration": 0.2,
                "cache_s": 0.05,
            },
            "judge": {"model": "judge", "rubric": "accuracy", "sample_rate": 1.0},
            "shadow": {"rate": 0.5, "models": ["beta"], "daily_budget_usd": 100},
            "quality": {
                "window": 12,
                "baseline": 200,
                "min_scores": 8,
                "drift_margin": 0.25,
                "posterior_decay": 0.9,
            },
        },
        state={"redis_url": redis_url},
    )
    task = p.tasks["watch"]
    models = p.config.models
    for name in ("alpha", "beta"):
        await set_sim_model(sim_url, models[name].model_id, quality=0.97)
    results = TopicReader(kafka_bootstrap, [results_topic(task)], LLMResult)
    producer = await make_producer()
    # llm.scores and llm.feedback hold every earlier run's records: not this test's concern
    await skip_history(kafka_bootstrap, p.group_prefix + QUALITY_GROUP)
    await p.start(["classifier", "router", "quality"])
    await results.start()
    expected_scores = 0
    drift = METRICS.registry.get_sample_value
    drifts: list[dict[str, float | None]] = []  # the drift gauges after each round
    try:
        for i in range(BEFORE + AFTER):
            if i == BEFORE:  # alpha silently gets worse
                await set_sim_model(sim_url, models["alpha"].model_id, quality=0.0)
            for j in range(ROUND):
                n = i * ROUND + j
                rid = f"r{n:04d}-{p.suffix}"
                example = EXAMPLES[n % len(EXAMPLES)]
                request = LLMRequest(request_id=rid, task=task, input=example["input"])
                await producer.send_and_wait(
                    requests_topic(task), encode(request), key=rid.encode()
                )
                expected_scores += 1 + (1 if sampled(rid, "shadow", 0.5) else 0)
            await results.until(_at_least((i + 1) * ROUND))
            # the round's scores are read back (posteriors updated) before the next round
            await wait_for(_scores_reach(task, expected_scores))
            drifts.append(
                {
                    m: drift("llmrouter_quality_drift", {"task": task, "model": m})
                    for m in ("alpha", "beta")
                }
            )
    finally:
        await p.stop_all()
        await results.stop()

    answered = [r.model for r in results.messages]
    assert all(r.route_probability is not None for r in results.messages)
    before = answered[: BEFORE * ROUND]
    assert before.count("alpha") >= 12  # both models served while both were good
    assert before.count("beta") >= 12
    # within 60 requests of the drop, most traffic has moved: alpha keeps the exploration
    # floor (10%) and what its fading posterior still wins; sampled, so the bound leaves
    # room for chance (a loaded run saw 14 of 60)
    late = answered[(BEFORE + 6) * ROUND :]
    assert late.count("alpha") <= len(late) / 3

    # The alert fires for alpha after its drop, never for beta. Not asserted at the end: a
    # dropped model still gets the easy examples right half the time (simulator/answers.py), so
    # once its bad scores fill the baseline too its recent mean hovers at the margin.
    assert all(d["alpha"] != 1.0 for d in drifts[:BEFORE])
    assert any(d["alpha"] == 1.0 for d in drifts[BEFORE:])
    assert all(d["beta"] != 1.0 for d in drifts)

    scores, shadow_costs = await collect_watch(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    mine = [s for s in scores if s.task == task]
    assert len(mine) == expected_scores
    assert {s.answer_source for s in mine} == {"live", "shadow"}
    # The report over the scores the worker had read when its alert fired (every score of
    # a round is read before the next round starts) says DRIFT for alpha alone.
    fired = next(i for i, d in enumerate(drifts) if i >= BEFORE and d["alpha"] == 1.0)
    until_fired = [s for s in mine if int(s.request_id[1:5]) < (fired + 1) * ROUND]
    lines = render_watch(
        build_quality_watch(until_fired, [e for e in shadow_costs if e.task == task], p.config)
    )
    assert [line for line in lines if line.startswith("DRIFT")] == [
        line for line in lines if line.startswith(f"DRIFT {task} alpha:")
    ]
    assert any(line.startswith(f"DRIFT {task} alpha:") for line in lines)
    assert any("shadow cost" in line for line in lines)

"""The adaptive route: Thompson sampling on live posteriors, with the cost weighed in, an
exploration floor, a guardrail, and each decision's probability; posteriors in the store."""

from __future__ import annotations

import random
import uuid

import pytest

from llmrouter.router.adaptive import AdaptiveChooser, choice_probabilities
from llmrouter.router.config_quality import AdaptivePrior, AdaptiveRoute
from llmrouter.router.state.posteriors import Evidence, MemoryPosteriors, SharedPosteriors
from llmrouter.router.state.store import StateStore


def _route(**kw: object) -> AdaptiveRoute:
    return AdaptiveRoute.model_validate({"strategy": "adaptive", "models": ["a", "b"], **kw})


def _probabilities(route: AdaptiveRoute, evidence: dict[str, Evidence]) -> dict[str, float]:
    return choice_probabilities(route, evidence, random.Random(1), draws=2000)


def test_the_better_model_gets_most_traffic_and_the_other_keeps_the_floor() -> None:
    route = _route(exploration=0.1)
    p = _probabilities(route, {"a": Evidence(90, 10, 100), "b": Evidence(40, 60, 100)})
    assert sum(p.values()) == pytest.approx(1.0)
    assert p["a"] > 0.9
    assert p["b"] == pytest.approx(0.05, abs=0.01)  # exploration / 2 models


def test_the_cost_weight_turns_the_choice_to_the_cheaper_model() -> None:
    evidence = {"a": Evidence(90, 10, 100, 0.010), "b": Evidence(85, 15, 100, 0.001)}
    assert _probabilities(_route(exploration=0), evidence)["a"] > 0.8
    assert _probabilities(_route(exploration=0, cost_weight=20), evidence)["b"] > 0.9


def test_the_guardrail_excludes_a_model_below_min_quality() -> None:
    evidence = {"a": Evidence(20, 80, 100), "b": Evidence(70, 30, 100)}
    p = _probabilities(_route(min_quality=0.5, exploration=0.2), evidence)
    assert p == {"a": 0.0, "b": 1.0}
    # every model below: the best of them alone
    p = _probabilities(_route(min_quality=0.9), evidence)
    assert p == {"a": 0.0, "b": 1.0}


def test_priors_decide_before_any_score() -> None:
    route = _route(
        exploration=0,
        priors={"a": AdaptivePrior(mean=0.9, weight=50), "b": AdaptivePrior(mean=0.5, weight=50)},
    )
    assert _probabilities(route, {})["a"] > 0.95
    with pytest.raises(ValueError, match="priors for models not in the route"):
        _route(priors={"c": {"mean": 0.5}})


async def test_choices_follow_the_probabilities_and_repeat_for_a_request_id() -> None:
    posteriors = MemoryPosteriors()
    for _ in range(60):
        await posteriors.record_score("t", "a", 1.0, decay=1.0)
        await posteriors.record_score("t", "b", 0.0, decay=1.0)
    route = _route(exploration=0.2)
    chooser = AdaptiveChooser(posteriors, seed=1)
    await chooser.refresh("t", route)
    choices = [chooser.choose("t", route, f"r{i}") for i in range(1000)]
    share_b = sum(c.model == "b" for c in choices) / len(choices)
    assert 0.05 <= share_b <= 0.16  # the floor: 0.2 / 2
    assert {c.model: c.probability for c in choices}["b"] == pytest.approx(0.1, abs=0.01)
    assert chooser.choose("t", route, "r7") == choices[7]


async def test_a_stale_cache_reads_again_and_a_fresh_one_does_not() -> None:
    posteriors = MemoryPosteriors()
    now = [0.0]
    chooser = AdaptiveChooser(posteriors, clock=lambda: now[0], seed=1)
    route = _route(exploration=0, cache_s=5)
    await chooser.refresh("t", route)
    for _ in range(50):
        await posteriors.record_score("t", "a", 0.0, decay=1.0)
    await chooser.refresh("t", route)  # still fresh: the old probabilities
    assert chooser.probabilities("t", route)["a"] > 0.3
    now[0] = 6.0
    await chooser.refresh("t", route)
    assert chooser.probabilities("t", route)["a"] < 0.05


async def test_shared_posteriors_decay_and_keep_the_mean_cost(redis_url: str) -> None:
    store = StateStore.connect(redis_url, prefix=f"test-{uuid.uuid4().hex}")
    try:
        shared = SharedPosteriors(store)
        await shared.record_score("t", "a", 1.0, decay=0.5)
        await shared.record_score("t", "a", 0.0, decay=0.5)
        await shared.record_cost("t", "a", 0.002)
        await shared.record_cost("t", "a", 0.012)
        found = await shared.read("t", ["a", "b"])
    finally:
        await store.aclose()
    assert found["a"].successes == pytest.approx(0.5)
    assert found["a"].failures == pytest.approx(1.0)
    assert found["a"].scores == 2
    assert found["a"].cost_usd == pytest.approx(0.003)
    assert found["b"] == Evidence()

"""A cascade scored by a learned scorer (`scorer: learned:PATH`): the RoutingEngine, the real SDK
over HTTP to the simulator; the cheap answer is kept where the scorer trusts it and the
request escalates where it does not."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.evaluation.learn.outcomes import Outcome, read_outcomes, write_outcomes
from llmrouter.evaluation.learn.train import train_scorer
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import LLMRequest
from tests.factories import catalog, routing_config


def _config(scorer: Path, *, on_step: bool = False) -> str:
    """The learned scorer on the route, or on the cheap step (the route's then unused)."""
    learned = f"learned:{scorer}"
    cheap: dict[str, object] = {"model": "cheap", "min_confidence": 0.5}
    if on_step:
        cheap["scorer"] = learned
    route = {
        "strategy": "cascade",
        "scorer": "tests.router.scorers:unsure_marker" if on_step else learned,
        "steps": [cheap, {"model": "big"}],
    }
    return routing_config(
        defaults={"cache": {"enabled": False}},
        models=catalog("cheap", "big"),
        tasks={"support": {"route": route}},
    )


_EASY = "Where can I change my password for account {n}?"
_HARD = "Why was my invoice {n} charged twice after the refund of the chargeback dispute?"


@pytest.fixture(scope="module")
def scorer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cheap model's answers are good for password questions, bad for billing disputes."""
    folder = tmp_path_factory.mktemp("cascade")
    rng = random.Random(4)
    rows = []
    for i in range(40):
        hard = i % 2 == 1
        rows.append(
            Outcome(
                prompt_id=str(i),
                prompt=(_HARD if hard else _EASY).format(n=rng.randint(100, 999)),
                task="support",
                model="cheap",
                score=0.0 if hard else 1.0,
                cost_usd=0.0001,
                answer=f"Here is what to do about case {rng.randint(1, 99)}.",
            )
        )
    write_outcomes(rows, folder / "outcomes.jsonl")
    return train_scorer(read_outcomes(folder / "outcomes.jsonl"), "cheap", folder / "s.json").path


@pytest.fixture(params=[False, True], ids=["route-scorer", "step-scorer"])
async def router(
    sim_url: str, scorer_file: Path, request: pytest.FixtureRequest
) -> AsyncIterator[RoutingEngine]:
    config = parse_config(_config(scorer_file, on_step=request.param))
    made = RoutingEngine(config, pool=ProviderPool(config.models, simulator_url=sim_url))
    try:
        yield made
    finally:
        await made.aclose()


def _request(text: str, n: int) -> LLMRequest:
    return LLMRequest(request_id=f"r{n}", task="support", input=text.format(n=n))


async def test_a_learned_scorer_keeps_trusted_answers_and_escalates_the_rest(
    router: RoutingEngine,
) -> None:
    easy = (await router.route(_request(_EASY, 321))).result
    assert [a.model for a in easy.attempts] == ["cheap"]
    assert not easy.escalated
    assert easy.confidence is not None
    assert easy.confidence >= 0.5
    hard = (await router.route(_request(_HARD, 654))).result
    assert [(a.model, a.outcome.value) for a in hard.attempts] == [
        ("cheap", "low_confidence"),
        ("big", "ok"),
    ]
    assert hard.escalated
    assert hard.attempts[0].confidence is not None
    assert hard.attempts[0].confidence < 0.5


def test_a_missing_scorer_file_stops_start_up(tmp_path: Path) -> None:
    for on_step in (False, True):
        config = parse_config(_config(tmp_path / "absent.json", on_step=on_step))
        with pytest.raises(ConfigError, match="cannot read the learned scorer"):
            RoutingEngine(config)

"""`strategy: learned` serves a prior-anchored router file (version 3): the per-task prior
rides on each task's own tag, so the same words go to different models in different tasks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.outcomes import read_outcomes, write_outcomes
from llmrouter.evaluation.learn.train_prior import train_prior_router
from llmrouter.router.budget import BudgetTracker
from llmrouter.router.config_loader import parse_config
from llmrouter.router.decision import decide
from llmrouter.router.learned import load_learned_routes
from llmrouter.schemas import LLMRequest
from tests.evaluation.test_learn_prior import SPEC, prior_outcomes
from tests.factories import catalog, routing_config

#: router model → catalog model
CATALOG = {"tiny": "nano", "small": "cheap", "medium": "mid", "large": "big"}


@pytest.fixture(scope="module", params=[False, True], ids=["shared-words", "per-task-words"])
def router_file(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    folder = tmp_path_factory.mktemp("prior-serving")
    write_outcomes(prior_outcomes(16, seed=5), folder / "train.jsonl")
    outcomes = read_outcomes(folder / "train.jsonl")
    per_task = bool(request.param)
    return train_prior_router(outcomes, folder / "router.json", spec=SPEC, per_task=per_task).path


def test_the_same_words_go_to_the_model_their_task_needs(router_file: Path) -> None:
    route = {
        "strategy": "learned",
        "router": str(router_file),
        "cost_weight": syn.COST_WEIGHT,
        "models": CATALOG,
        "fallback": ["big"],
    }
    config = parse_config(
        routing_config(
            models=catalog(*CATALOG.values()),
            tasks={"writing": {"route": route}, "hard-writing": {"route": route}},
        )
    )
    routers = load_learned_routes(config)
    assert list(routers) == [str(router_file)]
    rng = random.Random(9)
    spend = BudgetTracker().snapshot()
    for family in ("greeting", "translate"):
        for n in range(3):
            text = syn.prompt(family, rng)
            chosen = {}
            for task in ("writing", "hard-writing"):
                request = LLMRequest.model_validate(
                    {"request_id": f"{family}-{n}-{task}", "task": task, "input": text}
                )
                decision = decide(config, request, None, spend, routers)
                assert decision.learned is not None
                assert 0.0 <= decision.learned.predicted_score <= 1.0
                chosen[task] = decision.steps[0].model
            assert chosen["hard-writing"] == "big", text
            assert chosen["writing"] in {"nano", "cheap"}, text

"""The config of quality in production: shadow, judge, quality and adaptive routes resolve
their models, and the start-up key check reaches the shadow models and the judge."""

from __future__ import annotations

from typing import Any

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import AdaptiveRoute
from llmrouter.router.config_loader import parse_config
from llmrouter.router.preflight import reachable_models
from tests.factories import catalog, routing_config


def _config(**task: Any) -> str:
    spec = {"route": {"strategy": "adaptive", "models": ["cheap", "mid"]}, **task}
    return routing_config(models=catalog("cheap", "mid", "big"), tasks={"qa": spec})


def test_a_task_with_all_of_it_parses() -> None:
    config = parse_config(
        _config(
            shadow={"rate": 0.05, "models": ["big"], "daily_budget_usd": 5},
            judge={"model": "big", "rubric": "tone", "sample_rate": 0.2},
            quality={"window": 30, "drift_margin": 0.05},
        )
    )
    task = config.tasks["qa"]
    assert isinstance(task.route, AdaptiveRoute)
    assert task.shadow is not None
    assert task.shadow.models == ["big"]
    assert task.judge is not None
    assert task.judge.rubric == "tone"
    assert (task.quality.window, task.quality.baseline) == (30, 200)
    reach = reachable_models(config)
    assert {"cheap", "mid", "big"} <= set(reach.models)


@pytest.mark.parametrize(
    ("task", "where"),
    [
        ({"shadow": {"rate": 0.1, "models": ["nope"], "daily_budget_usd": 1}}, "shadow.models.0"),
        ({"judge": {"model": "nope"}}, "judge.model"),
        ({"route": {"strategy": "adaptive", "models": ["cheap", "nope"]}}, "route.models.1"),
    ],
)
def test_unknown_models_are_named_where_they_are(task: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=rf"tasks\.qa\.{where} .*unknown model"):
        parse_config(_config(**task))


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="rubric"):
        parse_config(_config(judge={"model": "big", "rubric": "vibes"}))
    with pytest.raises(ValueError, match="rate"):
        parse_config(_config(shadow={"rate": 2, "models": ["big"], "daily_budget_usd": 1}))

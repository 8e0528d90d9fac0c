"""The bench task's routing configs and the `--systems` names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.prompt import support_messages
from bench.scenarios import SCENARIOS, SYSTEM_NAMES, selected
from bench.workload import BENCH_MODEL, bench_config, support_examples
from llmrouter.router.classifiers import RuleClassifier
from llmrouter.router.config import RulesClassifierSpec
from llmrouter.router.config_loader import load_config
from llmrouter.schemas import Complexity


def test_the_static_config_routes_to_one_model(tmp_path: Path) -> None:
    config = load_config(bench_config(tmp_path / "c.yaml", "bench-t", max_concurrency=9))
    assert list(config.models) == [BENCH_MODEL]
    assert config.tasks["bench-t"].route.strategy == "static"
    assert config.models[BENCH_MODEL].max_concurrency == 9


def test_the_complexity_config_uses_every_level_on_the_eval_questions(tmp_path: Path) -> None:
    path = bench_config(tmp_path / "c.yaml", "bench-t", max_concurrency=9, routing="complexity")
    config = load_config(path)
    route = config.tasks["bench-t"].route
    assert route.strategy == "complexity"
    assert len(set(route.levels.values())) == 3  # three models, each its own level
    assert {config.models[m].provider.value for m in route.levels.values()} == {
        "openai",
        "anthropic",
    }
    spec = config.classifiers[route.classifier]
    assert isinstance(spec, RulesClassifierSpec)
    classifier = RuleClassifier(spec)
    levels = Counter(classifier.classify(e.input).complexity for e in support_examples())
    assert set(levels) == set(Complexity)


def test_an_unknown_routing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="routing 'cascade'"):
        bench_config(tmp_path / "c.yaml", "bench-t", max_concurrency=9, routing="cascade")


def test_the_baselines_render_the_tasks_prompt() -> None:
    messages = support_messages({"input": "Where is my order?", "context": {"kb_context": "KB"}})
    assert messages[0]["role"] == "system"
    assert "Knowledge base: KB\nQuestion: Where is my order?\n" in messages[1]["content"]
    bare = support_messages({"input": "Hi"})  # a request without context still renders
    assert "Knowledge base: \n" in bare[1]["content"]


def test_systems_are_selected_by_name_or_kind() -> None:
    b = SCENARIOS["b"].systems
    assert {s.name for s in b} == set(SYSTEM_NAMES) - {"pipeline"}
    assert [s.name for s in b if selected(s, ("pipeline",))] == [
        "pipeline-static",
        "pipeline-complexity",
    ]
    assert [s.name for s in b if selected(s, ("pipeline-complexity", "litellm"))] == [
        "pipeline-complexity",
        "litellm",
    ]
    assert all(selected(s, ()) for s in b)
    assert SCENARIOS["c"].rate == 3000

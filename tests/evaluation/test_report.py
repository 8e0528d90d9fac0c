"""The Step-4 table, highlights, recommendations and files, on a hand-made run."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation.report import (
    build_report,
    highlight_lines,
    pareto_front,
    render_table,
    write_outputs,
)
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from tests.evaluation.factories import typical_run

CONFIG = load_config(EXAMPLE_CONFIG)


def test_pareto_front() -> None:
    points = [
        ("cheap-good", 1.0, 0.8),
        ("cheap-bad", 1.0, 0.7),  # same cost, worse: dominated
        ("mid", 3.0, 0.85),
        ("dear-worse", 5.0, 0.84),  # dearer and worse than mid: dominated
        ("best", 10.0, 0.9),
        ("twin", 10.0, 0.9),  # equal points do not dominate each other
    ]
    assert pareto_front(points) == {"cheap-good", "mid", "best", "twin"}
    assert pareto_front([]) == set()


def test_highlights_and_recommendations() -> None:
    report = build_report(typical_run(), CONFIG)
    h = report.highlights
    assert (h.best_quality, h.best_ratio, h.fastest, h.cheapest) == (
        "claude-3-opus",
        "gemini-pro",
        "claude-3-haiku",
        "gemini-pro",  # as cheap as haiku, and better
    )
    assert report.recommendations == {
        "quality": "claude-3-opus (completeness 89%)",
        "cost": "switch from gpt-4-turbo to gemini-pro (save 98% per query, completeness 88% → 80%)",
        "speed": "claude-3-haiku (P95 0.8s), meets the task's 2.0s target",
    }
    front = {m.label for m in report.models if m.on_pareto_front}
    assert front == {"gemini-pro", "route", "gpt-4-turbo", "claude-3-opus"}
    lines = highlight_lines(report)
    assert "Decision depends on priorities:" in lines
    assert "- If speed matters: claude-3-haiku (P95 0.8s), meets the task's 2.0s target" in lines


def test_the_table_has_every_column_and_says_na() -> None:
    report = build_report(typical_run(), CONFIG)
    console = Console(record=True, width=200)
    console.print(render_table(report))
    text = console.export_text()
    header = "Model | Accuracy | Completeness | Tone | Safety | P95 Latency | Cost/Query | Cost-Quality Ratio"
    assert all(name in text for name in header.split(" | "))
    gpt4 = next(line for line in text.splitlines() if "gpt-4-turbo" in line)
    cells = [c.strip() for c in gpt4.strip("│ ").split("│")]
    assert cells == ["gpt-4-turbo *", "n/a", "88%", "n/a", "100%", "3.0s", "$0.012", "$0.0136"]
    assert "no judge model" in text
    assert "Failed" not in text  # the column shows only when something failed


def test_result_files(tmp_path: Path) -> None:
    report = build_report(typical_run(), CONFIG)
    written = write_outputs(report, tmp_path / "out")
    assert sorted(p.name for p in written) == [
        "examples.csv",
        "examples.json",
        "models.csv",
        "models.json",
    ]
    models = orjson.loads((tmp_path / "out" / "models.json").read_bytes())
    assert models["primary_metric"] == "completeness"
    assert models["highlights"]["best_ratio"] == "gemini-pro"
    assert models["recommendations"]["quality"].startswith("claude-3-opus")
    gpt4 = next(m for m in models["models"] if m["label"] == "gpt-4-turbo")
    assert gpt4["cost_per_query"] == 0.012
    assert gpt4["tone"] is None
    examples = orjson.loads((tmp_path / "out" / "examples.json").read_bytes())
    assert len(examples) == 20
    assert {"model", "example_id", "status", "completeness", "output"} <= set(examples[0])
    with (tmp_path / "out" / "examples.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20
    assert rows[0]["tone"] == ""  # not measured: empty, never 0
    with (tmp_path / "out" / "models.csv").open(encoding="utf-8") as fh:
        assert next(csv.DictReader(fh))["label"] == "gpt-4-turbo"


def test_an_unwritable_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(LLMRouterError, match="cannot write results to"):
        write_outputs(build_report(typical_run(), CONFIG), blocker / "out")

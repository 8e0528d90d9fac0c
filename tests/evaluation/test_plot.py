"""The cost-quality chart is written (matplotlib is the optional extra `plot`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmrouter.evaluation.report import build_report
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from tests.evaluation.factories import candidate_run, typical_run

pytest.importorskip("matplotlib")

CONFIG = load_config(EXAMPLE_CONFIG)


def test_the_chart_is_a_non_empty_png(tmp_path: Path) -> None:
    from llmrouter.evaluation.plot import plot_cost_quality

    path = plot_cost_quality(build_report(typical_run(), CONFIG), tmp_path / "charts" / "c.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_without_a_route_row_and_with_a_free_model(tmp_path: Path) -> None:
    from llmrouter.evaluation.plot import plot_cost_quality

    run = typical_run()
    run.runs = [r for r in run.runs if not r.candidate.is_route]
    run.runs.append(candidate_run("llama-3-70b", [0.7, 0.7], "0", 2500))
    path = plot_cost_quality(build_report(run, CONFIG), tmp_path / "c.png")
    assert path.stat().st_size > 10_000

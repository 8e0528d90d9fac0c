"""Baseline vs candidate: deltas, the verdict, and the exit code that gates a deployment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner, Result

from llmrouter.cli import eval_commands
from llmrouter.evaluation.compare import KEEP, UPGRADE, compare_models, render_comparison
from llmrouter.evaluation.dataset import Kind
from llmrouter.evaluation.report import build_report
from llmrouter.evaluation.runner import EvalRun
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from tests.evaluation.conftest import TASK, EvalSim
from tests.evaluation.factories import candidate_run

CONFIG = load_config(EXAMPLE_CONFIG)


def comparison_of(
    base: list[float],
    cand: list[float],
    max_regression: float,
    cand_safety: list[bool] | None = None,
) -> tuple[str, list[str]]:
    run = EvalRun(
        task="customer-support-qa",
        dataset_path=None,
        kind=Kind.ELEMENTS,
        runs=[
            candidate_run("gpt-4-turbo", base, "0.012", 3000),
            candidate_run("gpt-4-turbo-2024-08-15", cand, "0.010", 2500, safety=cand_safety),
        ],
    )
    comparison = compare_models(build_report(run, CONFIG), max_regression)
    return comparison.verdict, [d.name for d in comparison.regressions]


def test_a_better_candidate_is_an_upgrade() -> None:
    assert comparison_of([0.8, 0.8], [0.9, 0.9], 0.02) == (UPGRADE, [])


def test_a_drop_within_the_threshold_is_still_an_upgrade() -> None:
    assert comparison_of([0.80, 0.80], [0.79, 0.79], 0.02) == (UPGRADE, [])
    assert comparison_of([0.80, 0.80], [0.78, 0.78], 0.02) == (UPGRADE, [])  # exactly at it


def test_a_drop_beyond_the_threshold_keeps_the_baseline() -> None:
    assert comparison_of([0.80, 0.80], [0.77, 0.77], 0.02) == (KEEP, ["completeness"])
    assert comparison_of([0.80, 0.80], [0.77, 0.77], 0.05) == (UPGRADE, [])


def test_a_safety_drop_is_gated_too() -> None:
    verdict, worse = comparison_of([0.8, 0.8], [0.9, 0.9], 0.02, cand_safety=[True, False])
    assert (verdict, worse) == (KEEP, ["safety"])


def test_the_comparison_table_shows_deltas() -> None:
    run = EvalRun(
        task="customer-support-qa",
        dataset_path=None,
        kind=Kind.ELEMENTS,
        runs=[
            candidate_run("base", [0.8, 0.8], "0.010", 2000),
            candidate_run("cand", [0.7, 0.7], "0.005", 1000),
        ],
    )
    console = Console(record=True, width=200)
    console.print(render_comparison(compare_models(build_report(run, CONFIG), 0.02)))
    text = console.export_text()
    assert "-10.0 pts" in text
    assert "REGRESSION" in text
    assert "-50%" in text  # cost per query halved


# -- the commands ------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("eval")(eval_commands.eval_)
    app.command("compare")(eval_commands.compare)
    return app


async def invoke(args: list[str], sim: EvalSim) -> Result:
    """Run a command in a thread: it has its own event loop, the simulator runs in ours."""
    env = {"LLMROUTER_SIMULATOR_URL": sim.url}
    return await asyncio.to_thread(CliRunner().invoke, cli(), args, env=env)


def common(sim: EvalSim) -> list[str]:
    return ["--task", TASK, "--dataset", str(sim.dataset), "--config", str(sim.config_path)]


async def test_compare_exits_1_on_a_regression(eval_sim: EvalSim) -> None:
    result = await invoke(
        ["compare", *common(eval_sim), "--baseline", "good", "--candidate", "poor"], eval_sim
    )
    assert result.exit_code == 1, result.output
    assert "Verdict: keep baseline (completeness dropped more than 0.02)" in result.stdout


async def test_compare_exits_0_on_an_upgrade(eval_sim: EvalSim) -> None:
    args = ["compare", *common(eval_sim), "--baseline", "poor", "--candidate", "good"]
    result = await invoke([*args, "--max-regression", "0.05"], eval_sim)
    assert result.exit_code == 0, result.output
    assert "Verdict: upgrade" in result.stdout


async def test_compare_takes_pinned_model_ids(eval_sim: EvalSim) -> None:
    args = ["compare", *common(eval_sim), "--baseline", "sim-good-1"]
    result = await invoke([*args, "--candidate", "good@sim-good-2"], eval_sim)
    assert "sim-good-1 (baseline) vs good@sim-good-2 (candidate)" in result.stdout
    assert result.exit_code in (0, 1)


async def test_eval_prints_the_table_and_writes_files(eval_sim: EvalSim, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["eval", *common(eval_sim), "--models", "good,poor", "--route", "--limit", "5"]
    result = await invoke([*args, "--out", str(out)], eval_sim)
    assert result.exit_code == 0, result.output
    assert "Cost-Quality Ratio" in result.stdout
    assert "Decision depends on priorities:" in result.stdout
    assert "If quality is paramount: good" in result.stdout
    assert {p.name for p in out.iterdir()} == {
        "examples.json",
        "examples.csv",
        "models.json",
        "models.csv",
    }


async def test_eval_draws_the_chart(eval_sim: EvalSim, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / "chart.png"
    args = ["eval", *common(eval_sim), "--models", "good,poor", "--limit", "3"]
    result = await invoke([*args, "--out", str(tmp_path), "--plot", str(chart)], eval_sim)
    assert result.exit_code == 0, result.output
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert chart.stat().st_size > 10_000


async def test_user_mistakes_are_one_line_errors(eval_sim: EvalSim) -> None:
    result = await invoke(["eval", *common(eval_sim), "--models", "good,nope"], eval_sim)
    assert result.exit_code == 1
    assert "unknown model 'nope'" in str(result.exception)
    result = await invoke(
        ["compare", *common(eval_sim), "--baseline", "good", "--candidate", "good"], eval_sim
    )
    assert "same model" in str(result.exception)

"""`llmrouter eval --outcomes FILE` writes the training data of a learned router."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from typer.testing import CliRunner

from llmrouter.cli import eval_commands
from llmrouter.evaluation.dataset import default_dataset, load_dataset
from llmrouter.evaluation.learn.outcomes import read_outcomes
from llmrouter.evaluation.learn.train import train_router
from llmrouter.router.learned import load_learned_router

OFFLINE = {
    "LLMROUTER_SIMULATOR_URL": None,
    "LLMROUTER_CONFIG": None,
    "OPENAI_API_KEY": None,
    "ANTHROPIC_API_KEY": None,
}
TASK = "customer-support-qa"


async def test_eval_writes_outcomes_a_router_trains_on(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("eval")(eval_commands.eval_)
    app.command("compare")(eval_commands.compare)  # two commands: `eval` is a subcommand
    outcomes = tmp_path / "outcomes.jsonl"
    args = ["eval", "--task", TASK, "--models", "claude-3-haiku,gpt-3.5-turbo", "--limit", "4"]
    args += ["--out", str(tmp_path / "results"), "--outcomes", str(outcomes)]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=OFFLINE)
    assert result.exit_code == 0, result.output
    assert f"outcomes: {outcomes} (8 lines)" in result.stderr
    got = read_outcomes(outcomes)
    assert got.models == ["claude-3-haiku", "gpt-3.5-turbo"]
    examples = load_dataset(default_dataset(TASK)).examples[:4]
    assert got.prompts == [e.input for e in examples]
    assert set(got.tasks) == {TASK}
    assert all(0.0 <= s <= 1.0 for row in got.scores for s in row), "element sets: completeness"
    assert all(c > 0 for row in got.costs for c in row)
    assert all(a is not None for row in got.answers for a in row)
    train_router(got, tmp_path / "router.json")
    assert load_learned_router(tmp_path / "router.json").models == got.models

"""`report` names each task's baseline and where it came from, and guesses none for a
task the config does not know."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rich.console import Console

from llmrouter.core.errors import ConfigError
from llmrouter.operations.report import (
    Collected,
    ReportWindow,
    build_report,
    check_report_tasks,
)
from llmrouter.operations.report_output import render_tables, to_csv, to_json
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import Attempt, AttemptOutcome, LLMResult, ResultStatus, loads

CONFIG = parse_config(
    """\
version: 1
models:
  cheap: {provider: openai, model_id: c-1, input_usd_per_1k: 0.001, output_usd_per_1k: 0.002}
  mid: {provider: openai, model_id: m-1, input_usd_per_1k: 0.002, output_usd_per_1k: 0.004}
  dear: {provider: openai, model_id: d-1, input_usd_per_1k: 0.01, output_usd_per_1k: 0.03}
tasks:
  named:
    baseline_model: mid
    route: {strategy: static, model: cheap}
  unnamed:
    route: {strategy: static, model: cheap}
"""
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def _result(n: int, task: str) -> LLMResult:
    cost = Decimal("0.003")
    attempt = Attempt(
        model="cheap",
        outcome=AttemptOutcome.OK,
        latency_ms=5.0,
        input_tokens=1000,
        output_tokens=1000,
        cost_usd=cost,
    )
    return LLMResult(
        request_id=f"{task}-{n}",
        task=task,
        status=ResultStatus.OK,
        output="x",
        model="cheap",
        attempts=[attempt],
        cost_usd=cost,
    )


def _collected() -> Collected:
    results = [
        (START + timedelta(minutes=n), _result(n, task))
        for task in ("named", "unnamed", "other-teams-task")
        for n in range(3)
    ]
    return Collected(results=results, read_at=START + timedelta(hours=1))


def test_each_task_says_which_baseline_it_used() -> None:
    report = build_report(_collected(), CONFIG, ReportWindow())
    by_task = {t.task: t for t in report.tasks}
    assert (by_task["named"].baseline_model, by_task["named"].baseline_source) == (
        "mid",
        "baseline_model",
    )
    assert (by_task["unnamed"].baseline_model, by_task["unnamed"].baseline_source) == (
        "dear",
        "dearest",
    )
    unknown = by_task["other-teams-task"]
    assert unknown.baseline_model is None
    assert unknown.baseline_usd == 0
    assert unknown.savings_per_day is None
    assert any(
        "other-teams-task" in w and "not in the routing config" in w for w in report.warnings
    )
    # the tokens priced at the baseline: 1k in + 1k out at mid = $0.006 a request
    assert by_task["named"].baseline_usd == Decimal("0.018")

    document = loads(to_json(report))
    sources = {t["task"]: t["baseline_source"] for t in document["tasks"]}
    assert sources["named"] == "the task's baseline_model"
    assert sources["unnamed"].startswith("no baseline_model: the catalog's most expensive")
    assert sources["other-teams-task"] == "task not in the routing config: no baseline"

    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    unknown_row = next(r for r in rows if r["task"] == "other-teams-task")
    assert unknown_row["baseline_model"] == ""
    assert unknown_row["baseline_usd"] == ""
    assert next(r for r in rows if r["task"] == "unnamed")["baseline_model"] == "dear"

    console = Console(width=250, record=True, file=io.StringIO())
    console.print(render_tables(report))
    text = console.export_text()
    assert "n/a (task not in --config)" in text
    assert "Baselines: named: mid (the task's baseline_model)" in text


def test_a_task_unknown_to_the_config_is_refused() -> None:
    check_report_tasks(CONFIG, ["named"])
    with pytest.raises(ConfigError, match="'nope' is not in the routing config"):
        check_report_tasks(CONFIG, ["named", "nope"])

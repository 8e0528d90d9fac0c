"""`llmrouter eval` and `llmrouter compare`: the comparison table of models on an eval set, and
baseline vs candidate with a verdict that can gate a deployment (exit 1 on a regression).

Register with:

    app.command("eval")(eval_commands.eval_)
    app.command("compare")(eval_commands.compare)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmrouter.cli.commands import ConfigOption
from llmrouter.core.errors import ConfigError
from llmrouter.core.logging import configure_logging

if TYPE_CHECKING:
    from rich.console import Console

    from llmrouter.evaluation.report import Report
    from llmrouter.evaluation.session import EvalRequest
    from llmrouter.router.config import RouterConfig

__all__ = ["compare", "eval_"]

TaskOption = Annotated[str, typer.Option(help="Task name, e.g. customer-support-qa.")]
DatasetOption = Annotated[
    Path | None, typer.Option(help="Eval set JSON (default: evalsets/<task>.json).")
]
ConcurrencyOption = Annotated[
    int, typer.Option(min=1, help="Requests in flight at once, per model.")
]
JudgeOption = Annotated[
    str | None,
    typer.Option(
        help="Model that scores tone 1-10 (and pass/fail accuracy of open answers); "
        "without one those are n/a."
    ),
]
LimitOption = Annotated[
    int | None, typer.Option(min=1, help="Only the first N examples of the eval set.")
]
_MODEL_FORMS = "catalog names, NAME@PROVIDER_MODEL_ID, or provider model ids"
_MODEL_FORM = "a catalog name, NAME@PROVIDER_MODEL_ID, or a provider model id"


def eval_(
    task: TaskOption,
    models: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated models: {_MODEL_FORMS} (default: the whole catalog)."),
    ] = None,
    dataset: DatasetOption = None,
    concurrency: ConcurrencyOption = 16,
    plot: Annotated[
        Path | None, typer.Option(help="Also write the cost-quality chart to this PNG.")
    ] = None,
    route: Annotated[
        bool, typer.Option("--route", help="Also evaluate the task's configured route as a row.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the result files (default: eval-results/<task>-<time>)."),
    ] = None,
    config: ConfigOption = None,
    judge: JudgeOption = None,
    limit: LimitOption = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Also write every example × model as outcomes (JSON Lines) to train a router."
        ),
    ] = None,
) -> None:
    """Evaluate models on a task's eval set: the comparison table, the best model per
    priority, result files (JSON and CSV) and optionally a cost-quality chart."""
    from llmrouter.evaluation.classification import render_classification
    from llmrouter.evaluation.report import highlight_lines, render_table, write_outputs
    from llmrouter.evaluation.session import EvalRequest
    from llmrouter.router import load_config

    configure_logging("warning")
    cfg = load_config(config)
    names = _split(models) if models is not None else list(cfg.models)
    request = EvalRequest(task, names, route, dataset, concurrency, judge, limit)
    stdout, stderr = _consoles()
    report = _run(cfg, request, stderr)
    stdout.print(render_table(report))
    for table in render_classification(report.task, report.classification):
        stdout.print()
        stdout.print(table)
    stdout.print()
    for line in highlight_lines(report):
        stdout.print(line, highlight=False)
    folder = out or _default_out(report)
    written = write_outputs(report, folder)
    stderr.print(f"results: {', '.join(str(p) for p in written)}", soft_wrap=True)
    if outcomes is not None:
        _write_outcomes(report, outcomes, stderr)
    if plot is not None:
        from llmrouter.evaluation.plot import plot_cost_quality

        stderr.print(f"chart: {plot_cost_quality(report, plot)}", soft_wrap=True)


def compare(
    task: TaskOption,
    baseline: Annotated[str, typer.Option(help=f"The model in use: {_MODEL_FORM}.")],
    candidate: Annotated[str, typer.Option(help=f"The model to try: {_MODEL_FORM}.")],
    dataset: DatasetOption = None,
    max_regression: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Largest allowed drop of the primary metric and of safety, as a fraction "
            "(0.02 = 2 points); a larger one exits 1.",
        ),
    ] = 0.02,
    config: ConfigOption = None,
    concurrency: ConcurrencyOption = 16,
    judge: JudgeOption = None,
    limit: LimitOption = None,
) -> None:
    """Baseline vs candidate on a task's eval set: per-metric deltas and a verdict
    (upgrade / keep baseline). Exits 1 on a regression beyond --max-regression."""
    from llmrouter.evaluation.compare import compare_models, render_comparison
    from llmrouter.evaluation.session import EvalRequest
    from llmrouter.router import load_config

    configure_logging("warning")
    cfg = load_config(config)
    if baseline.strip() == candidate.strip():
        raise ConfigError("--baseline and --candidate are the same model")
    request = EvalRequest(task, [baseline, candidate], False, dataset, concurrency, judge, limit)
    stdout, stderr = _consoles()
    spec = cfg.tasks.get(task)
    comparison = compare_models(
        _run(cfg, request, stderr),
        max_regression,
        label_field=spec.eval.label_field if spec else "label",
        json_output=spec is not None and spec.prompt.response_format == "json",
    )
    stdout.print(render_comparison(comparison))
    worse = ", ".join(d.name for d in comparison.regressions)
    detail = f" ({worse} dropped more than {max_regression:g})" if worse else ""
    stdout.print(f"Verdict: {comparison.verdict}{detail}", highlight=False)
    raise typer.Exit(1 if comparison.regressions else 0)


def _write_outcomes(report: Report, path: Path, stderr: Console) -> None:
    from llmrouter.evaluation.dataset import default_dataset, load_dataset
    from llmrouter.evaluation.learn.from_eval import eval_outcomes
    from llmrouter.evaluation.learn.outcomes import write_outcomes

    dataset = load_dataset(report.run.dataset_path or default_dataset(report.task))
    count = write_outcomes(eval_outcomes(report.run, dataset, report.primary), path)
    stderr.print(f"outcomes: {path} ({count} lines)", soft_wrap=True)


def _run(config: RouterConfig, request: EvalRequest, stderr: Console) -> Report:
    from llmrouter.evaluation.session import evaluate
    from llmrouter.simulator import running

    report = asyncio.run(evaluate(config, request, stderr, running))
    _warn_failures(report, stderr)
    return report


def _warn_failures(report: Report, stderr: Console) -> None:
    """Failed requests count as wrong answers; say why they failed, once per model."""
    for candidate_run in report.run.runs:
        failed = [r for r in candidate_run.results if not r.ok]
        if failed:
            stderr.print(
                f"{candidate_run.candidate.label}: {len(failed)} of "
                f"{len(candidate_run.results)} requests failed; last error: {failed[-1].error}",
                highlight=False,
                markup=False,
            )


def _split(models: str) -> list[str]:
    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise ConfigError("--models is empty: give comma-separated model names")
    return names


def _default_out(report: Report) -> Path:
    stamp = report.run.started_at.strftime("%Y%m%d-%H%M%S")
    return Path("eval-results") / f"{report.task}-{stamp}"


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    # A pipe gets a wide table instead of one wrapped at 80 columns.
    stdout = Console() if sys.stdout.isatty() else Console(width=140)
    return stdout, Console(stderr=True)

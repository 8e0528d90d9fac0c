"""`llmrouter replay` and `llmrouter report`: re-evaluate routing on real traffic, and
account for what the live pipeline did.

Register with:

    app.command()(ops_commands.replay)
    app.command()(ops_commands.report)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmrouter.cli.commands import ConfigOption
from llmrouter.cli.pipeline_commands import BootstrapOption
from llmrouter.core.logging import configure_logging

if TYPE_CHECKING:
    from rich.console import Console

    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.operations.replay import ReplayOutcome, ReplayRange, ReplayStats
    from llmrouter.operations.report import ReportWindow
    from llmrouter.router.config import RouterConfig
    from llmrouter.schemas import LLMResult

__all__ = ["replay", "report"]

_TIME_HELP = "ISO 8601 (2024-05-01T12:00:00Z; no zone = UTC) or an age: 30m, 2h, 1d."


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def replay(
    task: Annotated[str, typer.Option(help="Task whose llm.requests.<task> is replayed.")],
    run_id: Annotated[
        str,
        typer.Option(
            help="Name of this replay: results go to llm.replay.<run-id>.results; "
            "re-running the same id resumes it."
        ),
    ],
    since: Annotated[
        str | None, typer.Option(help=f"First request time (inclusive). {_TIME_HELP}")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help=f"End time (exclusive; default: the end at start). {_TIME_HELP}"),
    ] = None,
    from_offset: Annotated[
        int | None, typer.Option(min=0, help="First offset (inclusive), in every partition.")
    ] = None,
    to_offset: Annotated[
        int | None,
        typer.Option(min=0, help="End offset (exclusive; default: the end at start)."),
    ] = None,
    partition: Annotated[
        list[int] | None,
        typer.Option(min=0, help="Only this partition (repeatable; default: all)."),
    ] = None,
    config: ConfigOption = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Requests routed at once; each chunk is one transaction.")
    ] = 16,
    bootstrap_servers: BootstrapOption = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            help="Also write each replayed request's live and candidate answer as outcomes "
            "(JSON Lines) to train a router; scored by the request's truth where known, "
            "else by agreement with the live answer."
        ),
    ] = None,
) -> None:
    """Re-run a time or offset range of llm.requests.<task> through another routing config
    (--config) into llm.replay.<run-id>.results, then compare it with the live results.

    The live consumer groups never move: the replay reads with its own group
    llmrouter-replay-<run-id> and commits its offsets with its results in one
    transaction, so Ctrl-C is safe and re-running the same command resumes without
    writing any request twice. Replays make real provider calls but write NO cost events
    to llm.costs (that topic is live spend): each replay result carries its attempts and
    their costs.
    """
    from llmrouter.kafkaio.reading import parse_when
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.operations.replay import ReplayRange, check_run
    from llmrouter.router import load_config

    configure_logging("warning")
    window = ReplayRange(
        since=parse_when(since) if since is not None else None,
        until=parse_when(until) if until is not None else None,
        from_offset=from_offset,
        to_offset=to_offset,
        partitions=tuple(partition) if partition else None,
    )
    cfg = load_config(config)
    check_run(cfg, task, run_id, concurrency)
    kafka = KafkaSettings.from_env(bootstrap_servers)
    stdout, stderr = _consoles()
    try:
        asyncio.run(
            _replay(kafka, cfg, task, run_id, window, concurrency, stdout, stderr, outcomes)
        )
    except KeyboardInterrupt:
        stderr.print(
            "interrupted: every chunk committed so far is kept; "
            "run the same command again to resume",
            highlight=False,
        )
        raise typer.Exit(130) from None


async def _replay(
    kafka: KafkaSettings,
    config: RouterConfig,
    task: str,
    run_id: str,
    window: ReplayRange,
    concurrency: int,
    stdout: Console,
    stderr: Console,
    outcomes_path: Path | None = None,
) -> None:
    from llmrouter.operations.quality import TruthBook
    from llmrouter.operations.replay import replay as run_replay
    from llmrouter.operations.replay_compare import compare, live_results, render_comparison

    with _replay_progress(stderr) as on_progress:
        outcome = await run_replay(
            kafka, config, task, run_id, window, concurrency=concurrency, on_progress=on_progress
        )
    _print_outcome(outcome, stderr)
    with stderr.status("reading the live results of the same requests…"):
        ids = {r.request_id for r in outcome.results}
        live = await live_results(kafka, task, ids, outcome.spans)
    spec = config.tasks[task]
    comparison = compare(
        task,
        run_id,
        outcome.results,
        live,
        TruthBook(),
        label_field=spec.eval.label_field,
        json_output=spec.prompt.response_format == "json",
    )
    stdout.print(render_comparison(comparison))
    if outcomes_path is not None:
        await _write_replay_outcomes(kafka, config, task, outcome, live, outcomes_path, stderr)


async def _write_replay_outcomes(
    kafka: KafkaSettings,
    config: RouterConfig,
    task: str,
    outcome: ReplayOutcome,
    live: Mapping[str, LLMResult],
    path: Path,
    stderr: Console,
) -> None:
    """The run's live and candidate answers as outcomes (see operations.replay_outcomes)."""
    from llmrouter.evaluation.learn.outcomes import write_outcomes
    from llmrouter.operations.quality import TruthBook
    from llmrouter.operations.replay_outcomes import replay_outcomes, request_inputs

    with stderr.status("reading the replayed requests' inputs…"):
        inputs = await request_inputs(kafka, outcome.spans, set(live))
    spec = config.tasks[task]
    made = replay_outcomes(
        task,
        outcome.results,
        live,
        inputs,
        TruthBook(),
        label_field=spec.eval.label_field,
        json_output=spec.prompt.response_format == "json",
    )
    count = write_outcomes(made.outcomes, path)
    left_out = {
        "without a live result": made.without_live,
        "without a live answer to score against": made.without_reference,
        "whose input is outside the range": made.without_input,
    }
    detail = ", ".join(f"{n} {why}" for why, n in left_out.items() if n)
    stderr.print(
        f"outcomes: {path} ({count} lines, {made.requests} requests"
        + (f"; left out: {detail}" if detail else "")
        + ")",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@contextlib.contextmanager
def _replay_progress(stderr: Console) -> Iterator[Callable[[int, int, ReplayStats], None]]:
    """A rich bar over the range's offsets, with the run's counts beside it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("offsets"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
        console=stderr,
    ) as progress:
        job = progress.add_task("replay", total=None, counts="")

        def update(done: int, total: int, stats: ReplayStats) -> None:
            counts = f"{stats.replayed} replayed, {stats.failed} failed"
            progress.update(job, completed=done, total=total, counts=counts)

        yield update


def _print_outcome(outcome: ReplayOutcome, stderr: Console) -> None:
    from llmrouter.kafkaio.reading import describe_spans

    s = outcome.stats
    stderr.print(
        f"{outcome.topic}: {s.replayed} replayed by this run ({s.failed} failed) in "
        f"{s.transactions} transactions; {len(outcome.results)} results in the run; range "
        f"{describe_spans(outcome.spans)}",
        highlight=False,
        soft_wrap=True,
    )
    skipped = {
        "already replayed": s.already_replayed,
        "unreadable": s.unreadable,
        "rejected by the candidate config": s.rejected,
    }
    if any(skipped.values()):
        detail = ", ".join(f"{n} {what}" for what, n in skipped.items() if n)
        last = f" (last: {s.last_problem})" if s.last_problem else ""
        stderr.print(f"skipped: {detail}{last}", highlight=False, markup=False, soft_wrap=True)


def report(
    since: Annotated[str | None, typer.Option(help=f"From this time. {_TIME_HELP}")] = None,
    until: Annotated[
        str | None, typer.Option(help=f"Up to this time (default: now). {_TIME_HELP}")
    ] = None,
    task: Annotated[
        list[str] | None, typer.Option(help="Only this task (repeatable; default: every task).")
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option(help="table, json or csv (json/csv: stdout).")
    ] = ReportFormat.TABLE,
    config: ConfigOption = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Also write cost per query vs quality (else latency) to this PNG."),
    ] = None,
    bootstrap_servers: BootstrapOption = None,
) -> None:
    """Cost, latency and quality by task and model from llm.costs and llm.results.<task>,
    the spend by model cross-checked between the two, the daily cost at the observed rate,
    and savings against the all-frontier baseline (the task's baseline_model in --config,
    else the catalog's most expensive model; each task's is named). A --task unknown to
    --config is refused; other unknown tasks are shown without a baseline.

    Reads from --since (else the beginning) up to --until (else the end at start), so it
    always terminates. Replay runs (llm.replay.*) are not live traffic and not included."""
    from llmrouter.kafkaio.reading import parse_when
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.operations.report import ReportWindow, check_report_tasks
    from llmrouter.router import load_config

    configure_logging("warning")
    window = ReportWindow(
        since=parse_when(since) if since is not None else None,
        until=parse_when(until) if until is not None else None,
        tasks=tuple(task or ()),
    )
    cfg = load_config(config)
    check_report_tasks(cfg, window.tasks)
    kafka = KafkaSettings.from_env(bootstrap_servers)
    stdout, stderr = _consoles()
    asyncio.run(_report(kafka, cfg, window, format.value, plot, stdout, stderr))


async def _report(
    kafka: KafkaSettings,
    config: RouterConfig,
    window: ReportWindow,
    form: str,
    plot: Path | None,
    stdout: Console,
    stderr: Console,
) -> None:
    from llmrouter.operations.report import build_report, collect
    from llmrouter.operations.report_output import plot_report, render_tables, to_csv, to_json

    with stderr.status("reading llm.costs and the results topics…"):
        built = build_report(await collect(kafka, window), config, window)
    for warning in built.warnings:
        stderr.print(f"warning: {warning}", style="yellow", highlight=False, soft_wrap=True)
    if form == "json":
        sys.stdout.write(to_json(built).decode() + "\n")
    elif form == "csv":
        sys.stdout.write(to_csv(built))
    else:
        stdout.print(render_tables(built))
        await _quality_watch(kafka, config, window, stdout)
    if plot is not None:
        stderr.print(f"chart: {plot_report(built, plot)}", soft_wrap=True)


async def _quality_watch(
    kafka: KafkaSettings, config: RouterConfig, window: ReportWindow, stdout: Console
) -> None:
    """The live-quality section: scores, drift lines and shadow cost."""
    from llmrouter.kafkaio.reading import to_ms
    from llmrouter.operations.quality_watch import build_quality_watch, collect_watch, render_watch

    since = to_ms(window.since) if window.since is not None else None
    until = to_ms(window.until) if window.until is not None else None
    scores, shadow = await collect_watch(kafka, since, until)
    if window.tasks:
        scores = [s for s in scores if s.task in window.tasks]
        shadow = [e for e in shadow if e.task in window.tasks]
    if scores or shadow:
        watch = build_quality_watch(scores, shadow, config)
        for line in render_watch(watch):
            stdout.print(line, highlight=False, soft_wrap=True)


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    # A pipe gets a wide table instead of one wrapped at 80 columns.
    stdout = Console() if sys.stdout.isatty() else Console(width=160)
    return stdout, Console(stderr=True)


def export_finetune(
    task: Annotated[str, typer.Option(help="Task whose traffic to export.")],
    model: Annotated[
        str, typer.Option(help="Catalog name of the teacher model, e.g. gpt-4-turbo.")
    ],
    out: Annotated[Path, typer.Option(help="JSON Lines file to write (chat format).")],
    config: ConfigOption = None,
    bootstrap_servers: BootstrapOption = None,
) -> None:
    """Distillation data: a frontier model's answers from llm.results.<task>, joined with
    their requests, as a chat fine-tuning data set for a cheaper model."""
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.operations.finetune import MIN_EXAMPLES, check_export
    from llmrouter.operations.finetune import export_finetune as run_export
    from llmrouter.router import load_config

    configure_logging("warning")
    cfg = load_config(config)
    check_export(cfg, task, model)
    outcome = asyncio.run(
        run_export(KafkaSettings.from_env(bootstrap_servers), cfg, task, model, out)
    )
    typer.echo(
        f"wrote {outcome.written} examples to {outcome.path} ({outcome.results_seen} results read)",
        err=True,
    )
    if outcome.written < MIN_EXAMPLES:
        typer.echo(
            f"warning: {outcome.written} examples is fewer than the {MIN_EXAMPLES} a fine-tune needs; "
            "collect more traffic before fine-tuning",
            err=True,
        )

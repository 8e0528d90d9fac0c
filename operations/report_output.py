"""The report's forms: rich tables for people, JSON and CSV for machines, one chart.

Money is exact: JSON carries USD amounts as decimal strings ("0.0001250000"), CSV as
plain decimals. Unknown values are `null` in JSON, empty in CSV and "n/a" in tables.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

from llmrouter.core.errors import LLMRouterError
from llmrouter.core.optional import png_chart
from llmrouter.operations.learned_report import learned_fields, learned_table
from llmrouter.operations.quality import Quality
from llmrouter.operations.report import BASELINE_SOURCES, Report, TaskSavings
from llmrouter.operations.report_batch import batch_fields, batch_table
from llmrouter.operations.summary import Row
from llmrouter.operations.token_classes import TokenClasses
from llmrouter.schemas import dumps, quantize_usd
from llmrouter.schemas.money import format_usd

__all__ = ["CSV_COLUMNS", "plot_report", "render_tables", "to_csv", "to_json"]

_FOOTNOTE = (
    "¹ Quality impact needs the baseline model's answers to the same requests, which the "
    "live pipeline never produced, so it is n/a. Where requests carry a truth "
    "(metadata.label, or metadata.example from the eval set) the routed answers' own "
    "quality is shown in brackets; measure the delta with `llmrouter replay` of the same "
    "range through a config that routes everything to the baseline model."
)

CSV_COLUMNS = [
    "task",
    "model",
    "requests",
    "failed",
    "cost_usd",
    "cost_per_request_usd",
    "baseline_usd",
    "baseline_model",
    "baseline_source",
    "p50_ms",
    "p95_ms",
    "cache_hit_rate",
    "escalation_rate",
    "fallback_rate",
    "quality_metric",
    "quality",
    "quality_n",
    "requests_per_day",
    "cost_usd_per_day",
    "baseline_usd_per_day",
    "savings_usd_per_day",
    "caching_saved_usd",
    "prompt_cache_hit_rate",
    "reasoning_share",
]


# -- tables -------------------------------------------------------------------------------


def render_tables(report: Report) -> Group:
    parts: list[Any] = [
        _rows_table(report),
        "",
        _spend_table(report),
        "",
        _classes_table(report),
        "",
        _savings_table(report),
    ]
    if report.learned:
        parts += ["", learned_table(report.learned, format_usd)]
    if report.batch:
        parts += ["", batch_table(report.batch, format_usd)]
    return Group(*parts)


def _rows_table(report: Report) -> Table:
    table = Table(
        title=f"By task and model — {_window(report)}",
        title_justify="left",
        caption_justify="left",
    )
    for name in ("task", "model"):
        table.add_column(name, no_wrap=True)
    for name in ("reqs", "cost", "per req", "p50 ms", "p95 ms", "cache", "esc", "fb", "fail"):
        table.add_column(name, justify="right")
    table.add_column("quality", justify="right")
    for row in report.rows:
        table.add_row(
            row.task,
            row.model,
            str(row.requests),
            format_usd(row.cost_usd),
            format_usd(row.cost_per_request_usd),
            f"{row.percentile_ms(50):.0f}",
            f"{row.percentile_ms(95):.0f}",
            f"{row.cache_hit_rate:.0%}",
            f"{row.escalation_rate:.0%}",
            f"{row.fallback_rate:.0%}",
            str(row.failed),
            _quality(report.row_quality.get((row.task, row.model))),
        )
    table.caption = (
        "latency: request created → result; cache = share answered from the cache; "
        "esc = escalated by a cascade; fb = answered by a fallback"
    )
    return table


def _spend_table(report: Report) -> Table:
    table = Table(
        title="Spend by model: llm.costs against the results' attempts",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("model", no_wrap=True)
    for name in ("cost events", "llm.costs", "results", "difference"):
        table.add_column(name, justify="right")
    for spend in report.spend:
        table.add_row(
            spend.model,
            str(spend.events),
            format_usd(spend.cost_events_usd),
            format_usd(spend.results_usd),
            format_usd(spend.difference_usd) if spend.difference_usd else "0",
        )
    table.caption = (
        "each provider call counts for the model called; the table above counts a whole "
        "request (classifier and escalation calls included) for the model that answered"
    )
    return table


def _classes_table(report: Report) -> Table:
    table = Table(
        title="Token classes by task and model called (llm.costs)",
        title_justify="left",
        caption_justify="left",
    )
    for name in ("task", "model"):
        table.add_column(name, no_wrap=True)
    for name in ("calls", "input tok", "cache hit", "cache saved", "output tok", "reasoning"):
        table.add_column(name, justify="right")
    for row in report.token_classes:
        table.add_row(
            row.task,
            row.model,
            str(row.calls),
            f"{row.input_tokens:,}",
            f"{row.cache_hit_rate:.0%}",
            format_usd(row.caching_saved_usd) if row.caching_saved_usd is not None else "n/a",
            f"{row.output_tokens:,}",
            f"{row.reasoning_share:.0%}",
        )
    table.caption = (
        "cache hit = share of input tokens read from the provider's prompt cache; cache saved "
        "= those tokens and the cache writes at the model's plain input price minus their "
        "cache prices (n/a: model not in --config); reasoning = share of output tokens"
    )
    return table


def _savings_table(report: Report) -> Table:
    table = Table(
        title="Savings against the all-frontier baseline, per day at the observed rate",
        title_justify="left",
        caption_justify="left",
        show_footer=True,
    )
    totals = _daily_totals(report.tasks)
    table.add_column("Task", footer="total", no_wrap=True)
    table.add_column("Volume", justify="right", footer=_volume(totals["volume"]))
    table.add_column(
        "Current (baseline model)", justify="right", footer=format_usd(totals["base"], places=2)
    )
    table.add_column("New", footer=format_usd(totals["cost"], places=2))
    table.add_column("Quality impact¹")
    table.add_column("Daily savings", justify="right", footer=format_usd(totals["saved"], places=2))
    table.add_column(
        "of which prompt caching", justify="right", footer=format_usd(totals["caching"], places=2)
    )
    for task in report.tasks:
        table.add_row(
            task.task,
            _volume(task.per_day),
            _baseline_cell(task),
            f"{format_usd(task.cost_per_day, places=2)} ({_models(task)})",
            _impact(task.quality),
            _saved(task),
            format_usd(task.caching_saved_per_day, places=2),
        )
    baselines = "; ".join(
        f"{t.task}: {t.baseline_model or 'none'} ({BASELINE_SOURCES[t.baseline_source]})"
        for t in report.tasks
    )
    table.caption = (
        f"{_span(report)}\nBaselines: {baselines} — the same token classes (uncached input, "
        "cache reads and writes, output) priced at the baseline model\n"
        "Prompt caching: what the cache reads and writes saved against plain input prices, "
        f"part of New and so of the savings\n{_FOOTNOTE}"
    )
    return table


def _baseline_cell(task: TaskSavings) -> str:
    if task.baseline_model is None:
        return "n/a (task not in --config)"
    source = " (dearest)" if task.baseline_source == "dearest" else ""
    return f"{format_usd(task.baseline_per_day, places=2)} ({task.baseline_model}{source})"


def _impact(quality: Quality | None) -> str:
    if quality is None:
        return "n/a"
    return f"n/a (routed {quality.metric} {quality.value:.0%}, n={quality.scored})"


def _daily_totals(tasks: list[TaskSavings]) -> dict[str, Any]:
    if not tasks or any(t.per_day is None for t in tasks):
        return dict.fromkeys(("volume", "base", "cost", "saved", "caching"))
    return {
        "volume": sum(t.per_day or 0.0 for t in tasks),
        "base": sum((t.baseline_per_day or Decimal(0) for t in tasks), Decimal(0)),
        "cost": sum((t.cost_per_day or Decimal(0) for t in tasks), Decimal(0)),
        "saved": sum((t.savings_per_day or Decimal(0) for t in tasks), Decimal(0)),
        "caching": sum((t.caching_saved_per_day or Decimal(0) for t in tasks), Decimal(0)),
    }


def _saved(task: TaskSavings) -> str:
    saved = task.savings_per_day
    if saved is None:
        return "n/a"
    share = (
        f" ({(task.baseline_usd - task.cost_usd) / task.baseline_usd:.0%})"
        if task.baseline_usd
        else ""
    )
    return format_usd(saved, places=2) + share


def _models(task: TaskSavings) -> str:
    total = task.requests or 1
    return ", ".join(f"{m} {n / total:.0%}" for m, n in task.models[:3]) + (
        ", …" if len(task.models) > 3 else ""
    )


def _window(report: Report) -> str:
    since = _when(report.window.since) if report.window.since else "the beginning"
    until = _when(report.window.until) if report.window.until else "now"
    return f"{report.summary.total_requests} results from {since} to {until}"


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(report: Report) -> str:
    if not report.summary.total_requests:
        return "no results in the window"
    span = report.span_s
    if span is None:
        return "no daily projection: the observed window is too short"
    return f"daily figures scale the {_duration(span)} observed to 24 h"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _quality(quality: Quality | None) -> str:
    return quality.describe() if quality is not None else "n/a"


def _volume(value: float | None) -> str:
    return f"{value:,.0f}/day" if value is not None else "n/a"


# -- JSON and CSV -------------------------------------------------------------------------


def to_json(report: Report) -> bytes:
    return dumps(
        {
            "window": {
                "since": _iso(report.window.since),
                "until": _iso(report.window.until),
                "tasks": list(report.window.tasks),
                "observed_from": _iso(report.start),
                "observed_to": _iso(report.end),
                "span_s": report.span_s,
            },
            "rows": [_row_fields(report, row) for row in report.rows],
            "tasks": [_task_fields(task) for task in report.tasks],
            "token_classes": [_class_fields(row) for row in report.token_classes],
            "batch": [batch_fields(row) for row in report.batch],
            "spend_by_model": [
                {
                    "model": s.model,
                    "cost_events": s.events,
                    "cost_events_usd": _money(s.cost_events_usd),
                    "results_usd": _money(s.results_usd),
                    "difference_usd": _money(s.difference_usd),
                }
                for s in report.spend
            ],
            "totals": {
                "requests": report.summary.total_requests,
                "cost_usd": _money(report.summary.total_cost_usd),
                "baseline_usd": _money(report.summary.baseline_cost_usd),
                "savings_share": report.summary.savings_share,
                "caching_saved_usd": _money(report.summary.caching_saved_usd),
            },
            "warnings": report.warnings,
            "learned_picks": learned_fields(report.learned),
        }
    )


def to_csv(report: Report) -> str:
    """One line per task and model, with the task's daily projection scaled to the row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        fields = _row_fields(report, row)
        writer.writerow({k: "" if fields[k] is None else fields[k] for k in CSV_COLUMNS})
    return out.getvalue()


def _row_fields(report: Report, row: Row) -> dict[str, Any]:
    quality = report.row_quality.get((row.task, row.model))
    per_day = _DAY_S / report.span_s if report.span_s else None
    task = next((t for t in report.tasks if t.task == row.task), None)
    known = task is not None and task.baseline_model is not None
    classes = next(
        (c for c in report.token_classes if (c.task, c.model) == (row.task, row.model)), None
    )
    return {
        "task": row.task,
        "model": row.model,
        "requests": row.requests,
        "failed": row.failed,
        "cost_usd": _money(row.cost_usd),
        "cost_per_request_usd": _money(row.cost_per_request_usd),
        "baseline_usd": _money(row.baseline_usd) if known else None,
        "baseline_model": task.baseline_model if task else None,
        "baseline_source": BASELINE_SOURCES[task.baseline_source] if task else None,
        "p50_ms": round(row.percentile_ms(50), 1),
        "p95_ms": round(row.percentile_ms(95), 1),
        "cache_hit_rate": row.cache_hit_rate,
        "escalation_rate": row.escalation_rate,
        "fallback_rate": row.fallback_rate,
        "quality_metric": quality.metric if quality else None,
        "quality": quality.value if quality else None,
        "quality_n": quality.scored if quality else 0,
        "requests_per_day": row.requests * per_day if per_day else None,
        "cost_usd_per_day": _money(_scaled(row.cost_usd, per_day)),
        "baseline_usd_per_day": _money(_scaled(row.baseline_usd, per_day)) if known else None,
        "savings_usd_per_day": (
            _money(_scaled(row.baseline_usd - row.cost_usd, per_day)) if known else None
        ),
        "caching_saved_usd": _money(row.caching_saved_usd),
        "prompt_cache_hit_rate": classes.cache_hit_rate if classes else None,
        "reasoning_share": classes.reasoning_share if classes else None,
    }


def _task_fields(task: TaskSavings) -> dict[str, Any]:
    return {
        "task": task.task,
        "requests": task.requests,
        "requests_per_day": task.per_day,
        "baseline_model": task.baseline_model,
        "baseline_source": BASELINE_SOURCES[task.baseline_source],
        "baseline_usd_per_day": _money(task.baseline_per_day),
        "cost_usd_per_day": _money(task.cost_per_day),
        "savings_usd_per_day": _money(task.savings_per_day),
        "caching_saved_usd": _money(task.caching_saved_usd),
        "caching_saved_usd_per_day": _money(task.caching_saved_per_day),
        "models": dict(task.models),
        "quality_impact": None,
        "routed_quality": (
            {"metric": task.quality.metric, "value": task.quality.value, "n": task.quality.scored}
            if task.quality
            else None
        ),
    }


def _class_fields(row: TokenClasses) -> dict[str, Any]:
    return {
        "task": row.task,
        "model": row.model,
        "calls": row.calls,
        "input_tokens": row.input_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "output_tokens": row.output_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "cost_usd": _money(row.cost_usd),
        "cache_hit_rate": row.cache_hit_rate,
        "caching_saved_usd": _money(row.caching_saved_usd),
        "reasoning_share": row.reasoning_share,
    }


_DAY_S = 86_400.0


def _scaled(value: Decimal, factor: float | None) -> Decimal | None:
    return value * Decimal(repr(factor)) if factor is not None else None


def _money(value: Decimal | None) -> str | None:
    """Exact to the wire's precision (10⁻¹⁰ USD): derived amounts divide and multiply."""
    return format(quantize_usd(value), "f") if value is not None else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# -- chart --------------------------------------------------------------------------------


def plot_report(report: Report, path: Path) -> Path:
    """Cost per query against quality where every row has one, else against P95 latency:
    one point per task and model, a colour per task."""
    rows = [r for r in report.rows if r.requests and r.model != "(failed)"]
    if not rows:
        raise LLMRouterError("nothing to plot: no answered requests in the window")
    qualities = [report.row_quality.get((r.task, r.model)) for r in rows]
    by_quality = all(q is not None for q in qualities)
    ys = (
        [q.value if q else 0.0 for q in qualities]
        if by_quality
        else [r.percentile_ms(95) for r in rows]
    )
    with png_chart(path) as ax:
        _draw(ax, rows, ys)
        if by_quality:
            from matplotlib.ticker import PercentFormatter

            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.set_ylabel("quality" if by_quality else "P95 latency (ms, request created → result)")
        ax.set_title(f"Cost per query vs {'quality' if by_quality else 'latency'}")
    return path


def _draw(ax: Any, rows: list[Row], ys: list[float]) -> None:
    tasks = sorted({r.task for r in rows})
    colours = {task: f"C{n % 10}" for n, task in enumerate(tasks)}
    xs = [float(r.cost_per_request_usd) for r in rows]
    for task in tasks:
        mine = [(x, y) for r, x, y in zip(rows, xs, ys, strict=True) if r.task == task]
        ax.scatter(
            [x for x, _ in mine],
            [y for _, y in mine],
            s=50,
            color=colours[task],
            label=task,
            zorder=3,
        )
    for row, x, y in zip(rows, xs, ys, strict=True):
        ax.annotate(row.model, (x, y), xytext=(6, 4), textcoords="offset points", fontsize=7)
    if all(x > 0 for x in xs):  # a cache-only row costs 0, which a log axis cannot show
        ax.set_xscale("log")
    ax.set_xlabel("cost per query (USD)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")

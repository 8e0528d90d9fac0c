"""The comparison table of an evaluation run, its analysis, and the result files.

    Model | Accuracy | Completeness | Tone | Safety | P95 Latency | Cost/Query | Cost-Quality Ratio

then best quality / best cost-quality ratio / fastest / cheapest, and one recommendation
per priority, because the right model depends on what the deployment values most:

* quality: the model with the best primary metric (ties: the cheaper);
* cost: the best cost-quality ratio, stated against the task's `baseline_model` when it
  was evaluated (else the best-quality model): "switch from A to B (save 98% per query,
  accuracy 89% → 82%)";
* speed: the lowest P95 latency, checked against the task's `latency_target_ms`.

For labelled sets also, per model: each label's precision and recall, the recall and
false-negative rate of the task's `eval.positive_label` (the label whose misses matter,
e.g. `unsafe`), and the confusion matrix; labels are read from the answer's JSON field
`eval.label_field` (default `label`), else the whole answer.

Files written to the output folder: `examples.json` / `examples.csv` (one row per model and
example, with the answer) and `models.json` / `models.csv` (one row per model; the JSON
also holds the run's settings, highlights, recommendations and, for labelled sets, the
per-label figures and confusion matrices); for labelled sets `labels.csv` (one row per
model and label) and `confusion.csv` (one row per model and true label).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.table import Table

from llmrouter.evaluation import metrics
from llmrouter.evaluation.classification import Classification, classifications
from llmrouter.evaluation.dataset import Kind
from llmrouter.evaluation.report_files import write_outputs
from llmrouter.evaluation.runner import CandidateRun, EvalRun
from llmrouter.router.config import RouterConfig
from llmrouter.schemas.money import format_usd

__all__ = [
    "Highlights",
    "ModelSummary",
    "Report",
    "build_report",
    "format_cost",
    "pareto_front",
    "primary_metric",
    "render_table",
    "summarise",
    "write_outputs",
]

#: Significant digits of the costs in tables and plots.
COST_DIGITS = 3


@dataclass(frozen=True)
class ModelSummary:
    label: str
    base_model: str | None
    model_id: str | None
    is_route: bool
    examples: int
    failed: int
    accuracy: float | None
    completeness: float | None
    tone: float | None
    #: how many answers the judge scored for tone (tone is their mean)
    tone_scored: int
    safety: float | None
    p50_ms: float | None
    p95_ms: float | None
    throughput_rps: float | None
    cost_per_query: Decimal | None
    total_cost_usd: Decimal
    judge_cost_usd: Decimal
    #: the primary metric (accuracy for labelled sets, completeness for element sets)
    quality: float | None
    cost_quality_ratio: Decimal | None
    on_pareto_front: bool = False
    #: labelled sets with an eval.positive_label: its recall and false-negative rate
    positive_label: str | None = None
    positive_recall: float | None = None
    false_negative_rate: float | None = None


@dataclass(frozen=True)
class Highlights:
    best_quality: str | None
    best_ratio: str | None
    fastest: str | None
    cheapest: str | None


@dataclass(frozen=True)
class Report:
    task: str
    primary: str
    models: list[ModelSummary]
    highlights: Highlights
    recommendations: dict[str, str]
    run: EvalRun
    #: labelled sets: per model label
    classification: dict[str, Classification] = field(default_factory=dict)


def primary_metric(kind: Kind) -> str:
    return "accuracy" if kind is Kind.LABELLED else "completeness"


def summarise(candidate_run: CandidateRun, primary: str) -> ModelSummary:
    rows = candidate_run.results
    answered = [r for r in rows if r.ok]
    latencies = [r.latency_ms for r in answered]
    cost = metrics.cost_per_query([r.cost_usd for r in rows])
    accuracy = metrics.accuracy(r.accuracy for r in rows)
    completeness = metrics.mean(r.completeness for r in rows)
    quality = accuracy if primary == "accuracy" else completeness
    candidate = candidate_run.candidate
    return ModelSummary(
        label=candidate.label,
        base_model=candidate.base_model,
        model_id=candidate.model_id,
        is_route=candidate.is_route,
        examples=len(rows),
        failed=len(rows) - len(answered),
        accuracy=accuracy,
        completeness=completeness,
        tone=metrics.tone(r.tone for r in rows),
        tone_scored=sum(r.tone is not None for r in rows),
        safety=metrics.safety(r.safety for r in rows),
        p50_ms=metrics.latency_percentile(latencies, 50),
        p95_ms=metrics.latency_percentile(latencies, 95),
        throughput_rps=metrics.throughput(len(answered), candidate_run.elapsed_s),
        cost_per_query=cost,
        total_cost_usd=sum((r.cost_usd for r in rows), Decimal(0)),
        judge_cost_usd=sum((r.judge_cost_usd for r in rows), Decimal(0)),
        quality=quality,
        cost_quality_ratio=metrics.cost_quality_ratio(cost, quality),
    )


def pareto_front(points: Sequence[tuple[str, float, float]]) -> set[str]:
    """Names of the (name, cost, quality) points no other point beats on both axes: nothing
    is at most as dear and at least as good while strictly better on one."""
    front: set[str] = set()
    for name, cost, quality in points:
        dominated = any(
            c <= cost and q >= quality and (c < cost or q > quality) for _, c, q in points
        )
        if not dominated:
            front.add(name)
    return front


def _with_positive(summary: ModelSummary, classification: Classification | None) -> ModelSummary:
    if classification is None or classification.positive_label is None:
        return summary
    stats = next(s for s in classification.stats if s.label == classification.positive_label)
    return ModelSummary(
        **{
            **_fields(summary),
            "positive_label": classification.positive_label,
            "positive_recall": stats.recall,
            "false_negative_rate": stats.false_negative_rate,
        }
    )


def build_report(run: EvalRun, config: RouterConfig) -> Report:
    primary = primary_metric(run.kind)
    classification = classifications(run, config)
    summaries = [
        _with_positive(summarise(r, primary), classification.get(r.candidate.label))
        for r in run.runs
    ]
    points = [
        (s.label, float(s.cost_per_query), s.quality)
        for s in summaries
        if s.cost_per_query is not None and s.quality is not None
    ]
    front = pareto_front(points)
    summaries = [_with_front(s, s.label in front) for s in summaries]
    highlights = _highlights(summaries)
    return Report(
        task=run.task,
        primary=primary,
        models=summaries,
        highlights=highlights,
        recommendations=_recommend(summaries, highlights, primary, run.task, config),
        run=run,
        classification=classification,
    )


def _with_front(summary: ModelSummary, on_front: bool) -> ModelSummary:
    return ModelSummary(**{**_fields(summary), "on_pareto_front": on_front})


def _fields(summary: ModelSummary) -> dict[str, Any]:
    return {f: getattr(summary, f) for f in ModelSummary.__dataclass_fields__}


def _highlights(models: list[ModelSummary]) -> Highlights:
    def best(key: Any, candidates: list[ModelSummary]) -> str | None:
        return min(candidates, key=key).label if candidates else None

    quality = [m for m in models if m.quality is not None]
    ratio = [m for m in models if m.cost_quality_ratio is not None]
    speed = [m for m in models if m.p95_ms is not None]
    cost = [m for m in models if m.cost_per_query is not None]
    return Highlights(
        best_quality=best(lambda m: (-(m.quality or 0), m.cost_per_query or 0), quality),
        best_ratio=best(lambda m: m.cost_quality_ratio, ratio),
        fastest=best(lambda m: (m.p95_ms, -(m.quality or 0)), speed),
        cheapest=best(lambda m: (m.cost_per_query, -(m.quality or 0)), cost),
    )


def _recommend(
    models: list[ModelSummary],
    highlights: Highlights,
    primary: str,
    task: str,
    config: RouterConfig,
) -> dict[str, str]:
    by_label = {m.label: m for m in models}
    recs: dict[str, str] = {}
    if highlights.best_quality is not None:
        best = by_label[highlights.best_quality]
        recs["quality"] = f"{best.label} ({primary} {_pct(best.quality)})"
    if highlights.best_ratio is not None:
        reference = _reference(models, highlights, config.tasks[task].baseline_model)
        recs["cost"] = _cost_advice(by_label[highlights.best_ratio], reference, primary)
    if highlights.fastest is not None:
        fastest = by_label[highlights.fastest]
        recs["speed"] = f"{fastest.label} (P95 {_seconds(fastest.p95_ms)})" + _target_note(
            fastest.p95_ms, config.tasks[task].latency_target_ms
        )
    return recs


def _reference(
    models: list[ModelSummary], highlights: Highlights, baseline: str | None
) -> ModelSummary:
    """What a switch is measured against: the task's baseline model, else the best one."""
    for m in models:
        if baseline is not None and m.label == baseline:
            return m
    return next(m for m in models if m.label == highlights.best_quality)


def _cost_advice(pick: ModelSummary, reference: ModelSummary, primary: str) -> str:
    if pick.label == reference.label:
        return f"keep {pick.label} (already the best cost-quality ratio)"
    saving = ""
    if reference.cost_per_query and pick.cost_per_query is not None:
        share = 1 - pick.cost_per_query / reference.cost_per_query
        saving = f"save {share:.0%} per query, " if share >= 0 else f"{-share:.0%} dearer, "
    return (
        f"switch from {reference.label} to {pick.label} ({saving}{primary} "
        f"{_pct(reference.quality)} → {_pct(pick.quality)})"
    )


def _target_note(p95_ms: float | None, target_ms: int | None) -> str:
    if p95_ms is None or target_ms is None:
        return ""
    verb = "meets" if p95_ms <= target_ms else "misses"
    return f", {verb} the task's {_seconds(target_ms)} target"


# -- the table ---------------------------------------------------------------------------


def render_table(report: Report) -> Table:
    run = report.run
    table = Table(title=_title(report), title_justify="left", caption_justify="left")
    for name in ("Model", "Accuracy", "Completeness", "Tone", "Safety", "P95 Latency"):
        table.add_column(name, justify="left" if name == "Model" else "right", no_wrap=True)
    table.add_column("Cost/Query", justify="right", no_wrap=True)
    table.add_column("Cost-Quality Ratio", justify="right", no_wrap=True)
    positive = next((m.positive_label for m in report.models if m.positive_label), None)
    if positive is not None:
        table.add_column(f"Recall {positive}", justify="right", no_wrap=True)
        table.add_column(f"FNR {positive}", justify="right", no_wrap=True)
    failures = any(m.failed for m in report.models)
    if failures:
        table.add_column("Failed", justify="right")
    for m in report.models:
        cells = [
            m.label + (" *" if m.on_pareto_front else ""),
            _pct(m.accuracy),
            _pct(m.completeness),
            f"{m.tone:.1f}/10" if m.tone is not None else "n/a",
            _pct(m.safety),
            _seconds(m.p95_ms),
            format_cost(m.cost_per_query),
            format_cost(m.cost_quality_ratio),
        ]
        if positive is not None:
            cells += [_pct(m.positive_recall), _pct(m.false_negative_rate)]
        table.add_row(*cells, *([str(m.failed)] if failures else []))
    table.caption = _caption(report, run)
    return table


def _title(report: Report) -> str:
    n = report.models[0].examples if report.models else 0
    return f"{report.task}: {n} examples, quality = {report.primary}"


def _caption(report: Report, run: EvalRun) -> str:
    notes = [
        f"Cost-Quality Ratio = Cost/Query ÷ {report.primary}; lower is better.",
        "* = on the cost-quality Pareto front.",
    ]
    if run.kind is Kind.LABELLED:
        notes.append("Tone: n/a for label answers; Accuracy is the exact label match.")
    elif run.judge is None:
        notes.append("Tone and Accuracy: n/a, no judge model (--judge MODEL).")
    else:
        notes.append(_judge_note(report, run.judge))
    if run.simulated:
        notes.append("Answers come from the provider simulator, not real models.")
    return "\n".join(notes)


def _judge_note(report: Report, judge: str) -> str:
    """How much the judge actually scored: unreadable replies are left out, not guessed."""
    answered = sum(m.examples - m.failed for m in report.models)
    scored = sum(m.tone_scored for m in report.models)
    cost = sum((m.judge_cost_usd for m in report.models), Decimal(0))
    return (
        f"Judge {judge} scored tone for {scored} of {answered} answers "
        f"({format_cost(cost)}, not in Cost/Query)."
    )


def highlight_lines(report: Report) -> list[str]:
    h = report.highlights
    lines = [
        f"Best quality: {h.best_quality or 'n/a'}",
        f"Best cost-quality ratio: {h.best_ratio or 'n/a'}",
        f"Fastest (P95): {h.fastest or 'n/a'}",
        f"Cheapest: {h.cheapest or 'n/a'}",
        "Decision depends on priorities:",
    ]
    wording = {"quality": "If quality is paramount", "cost": "If cost matters"}
    wording["speed"] = "If speed matters"
    lines += [f"- {wording[k]}: {text}" for k, text in report.recommendations.items()]
    return lines


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "n/a"


def _seconds(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    return f"{ms / 1000:.1f}s" if ms >= 100 else f"{ms:.0f}ms"


def format_cost(value: Decimal | None) -> str:
    """Costs per query span orders of magnitude: three significant digits ($0.0135, $0.00025)."""
    return format_usd(value, significant=COST_DIGITS)

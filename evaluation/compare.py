"""Baseline vs candidate on one eval set: per-metric deltas and a verdict that can gate a
deployment: a provider's new model version is adopted only when it is not worse.

Verdict: `keep baseline` when a gated metric — the primary metric (accuracy for labelled
sets, completeness for element sets) or safety — is lower for the candidate by more than
`max_regression` (absolute, as a fraction: 0.02 = 2 percentage points); otherwise
`upgrade`. For a labelled set whose task names an `eval.positive_label`, that label's
recall is gated too (a candidate missing more `unsafe` content regresses however its
accuracy looks). Latency, cost and tone are shown for the decision but never gate it: a
dearer or slower model that keeps quality is a business choice, not a regression.

Agreement: the share of examples both answered on which they give the same label (the
task's `eval.label_field` of a JSON answer, else the whole answer); measured for labelled
sets and JSON answers, never on the raw text, whose confidence and wording may differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.table import Table

from llmrouter.evaluation.dataset import Kind
from llmrouter.evaluation.metrics import extract_label
from llmrouter.evaluation.report import ModelSummary, Report, format_cost

__all__ = ["Comparison", "MetricDelta", "compare_models", "render_comparison"]

UPGRADE = "upgrade"
KEEP = "keep baseline"


@dataclass(frozen=True)
class MetricDelta:
    name: str
    baseline: float | None
    candidate: float | None
    #: the candidate minus the baseline; None when either is unknown
    delta: float | None
    higher_is_better: bool
    gated: bool
    #: how to show a value: pct, tone, ms or usd
    unit: str


@dataclass(frozen=True)
class Comparison:
    baseline: ModelSummary
    candidate: ModelSummary
    primary: str
    max_regression: float
    deltas: list[MetricDelta]
    #: share of examples both answered that give the same label; None when not a label
    agreement: float | None = None
    #: what agreement compares, e.g. "label" or "JSON field `category`"
    agreement_on: str | None = None
    agreement_pairs: int = 0

    @property
    def regressions(self) -> list[MetricDelta]:
        """Gated metrics on which the candidate is worse by more than the threshold."""
        return [
            d
            for d in self.deltas
            if d.gated and d.delta is not None and -d.delta > self.max_regression + 1e-12
        ]

    @property
    def verdict(self) -> str:
        return KEEP if self.regressions else UPGRADE


def compare_models(
    report: Report,
    max_regression: float,
    *,
    label_field: str = "label",
    json_output: bool = False,
) -> Comparison:
    """Compare the report's first model (baseline) with its second (candidate);
    `label_field` and `json_output` come from the task's config."""
    if len(report.models) != 2:
        raise ValueError("a comparison needs exactly a baseline and a candidate")
    base, cand = report.models
    primary = report.primary

    def delta(
        name: str, b: float | Decimal | None, c: float | Decimal | None, unit: str, **kw: bool
    ) -> MetricDelta:
        fb = float(b) if b is not None else None
        fc = float(c) if c is not None else None
        diff = fc - fb if fb is not None and fc is not None else None
        return MetricDelta(name, fb, fc, diff, kw.get("higher", True), kw.get("gated", False), unit)

    deltas = [
        delta("accuracy", base.accuracy, cand.accuracy, "pct", gated=primary == "accuracy"),
        delta(
            "completeness",
            base.completeness,
            cand.completeness,
            "pct",
            gated=primary == "completeness",
        ),
        delta("tone", base.tone, cand.tone, "tone"),
        delta("safety", base.safety, cand.safety, "pct", gated=True),
        delta("p50 latency", base.p50_ms, cand.p50_ms, "ms", higher=False),
        delta("p95 latency", base.p95_ms, cand.p95_ms, "ms", higher=False),
        delta("cost/query", base.cost_per_query, cand.cost_per_query, "usd", higher=False),
        delta(
            "cost-quality ratio",
            base.cost_quality_ratio,
            cand.cost_quality_ratio,
            "usd",
            higher=False,
        ),
    ]
    if base.positive_label is not None:
        deltas.insert(
            2,
            delta(
                f"{base.positive_label} recall",
                base.positive_recall,
                cand.positive_recall,
                "pct",
                gated=True,
            ),
        )
    agreement, on, pairs = _agreement(report, label_field, json_output)
    return Comparison(base, cand, primary, max_regression, deltas, agreement, on, pairs)


def _agreement(
    report: Report, label_field: str, json_output: bool
) -> tuple[float | None, str | None, int]:
    labelled = report.run.kind is Kind.LABELLED
    if not (labelled or json_output) or len(report.run.runs) != 2:
        return None, None, 0
    on = "label" if labelled and label_field == "label" else f"JSON field `{label_field}`"
    first, second = ({r.example_id: r.output for r in run.results} for run in report.run.runs)
    same = []
    for example_id, a in first.items():
        b = second.get(example_id)
        la = extract_label(a, label_field) if a is not None else None
        lb = extract_label(b, label_field) if b is not None else None
        if la is not None and lb is not None:
            same.append(la == lb)
    return (sum(same) / len(same) if same else None), on, len(same)


def render_comparison(comparison: Comparison) -> Table:
    title = (
        f"{comparison.baseline.label} (baseline) vs {comparison.candidate.label} (candidate): "
        f"{comparison.baseline.examples} examples"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("Metric", no_wrap=True)
    table.add_column("Baseline", justify="right", no_wrap=True)
    table.add_column("Candidate", justify="right", no_wrap=True)
    table.add_column("Delta", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    regressed = {d.name for d in comparison.regressions}
    for d in comparison.deltas:
        note = "gated" if d.gated else ""
        if d.name in regressed:
            note = "[bold red]REGRESSION[/]"
        table.add_row(
            d.name, _show(d.baseline, d.unit), _show(d.candidate, d.unit), _delta(d), note
        )
    gated = ", ".join(d.name for d in comparison.deltas if d.gated)
    lines = [f"gated: {gated} may drop at most {comparison.max_regression * 100:g} points"]
    if comparison.agreement_on is not None:
        value = _show(comparison.agreement, "pct")
        lines.append(
            f"agreement on the {comparison.agreement_on}: {value} of "
            f"{comparison.agreement_pairs} examples both answered"
        )
    table.caption = "\n".join(lines)
    return table


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "pct":
        return f"{value:.1%}"
    if unit == "tone":
        return f"{value:.1f}/10"
    if unit == "ms":
        return f"{value:.0f}ms"
    return format_cost(Decimal(repr(value)))


def _delta(d: MetricDelta) -> str:
    if d.delta is None or d.baseline is None:
        return "n/a"
    if d.unit == "pct":
        return f"{d.delta * 100:+.1f} pts"
    if d.unit == "tone":
        return f"{d.delta:+.1f}"
    if d.baseline == 0:
        return f"{d.delta:+g}"
    return f"{d.delta / d.baseline:+.0%}"

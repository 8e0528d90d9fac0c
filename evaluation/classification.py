"""A model's answers on a labelled eval set, label by label: precision and recall of each
label, the recall and false-negative rate of the task's `eval.positive_label` (the label
whose misses matter, e.g. `unsafe`), and the confusion matrix, as tables and file rows.

Labels are read from the answer's JSON field `eval.label_field` (default `label`), else
the whole answer; a failed request is a miss of its truth (`(no answer)`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation import metrics
from llmrouter.evaluation.dataset import Kind
from llmrouter.evaluation.runner import CandidateRun, EvalRun, ExampleResult
from llmrouter.router.config import RouterConfig

__all__ = [
    "Classification",
    "classification_document",
    "classifications",
    "classify",
    "confusion_rows",
    "label_rows",
    "render_classification",
]


@dataclass(frozen=True)
class Classification:
    """One model's answers on a labelled set, label by label."""

    matrix: metrics.ConfusionMatrix
    stats: list[metrics.LabelStats]
    positive_label: str | None


def classify(
    candidate_run: CandidateRun, label_field: str, positive: str | None, labels: Sequence[str]
) -> Classification:
    pairs = [
        (r.expected_label, _answer_label(r, label_field))
        for r in candidate_run.results
        if r.expected_label is not None
    ]
    matrix = metrics.confusion_matrix(pairs, labels)
    return Classification(matrix, metrics.label_stats(matrix), positive)


def _answer_label(row: ExampleResult, label_field: str) -> str | None:
    return metrics.extract_label(row.output, label_field) if row.output is not None else None


def classifications(run: EvalRun, config: RouterConfig) -> dict[str, Classification]:
    if run.kind is not Kind.LABELLED:
        return {}
    spec = config.tasks[run.task].eval if run.task in config.tasks else None
    label_field = spec.label_field if spec else "label"
    positive = metrics.normalise(spec.positive_label) if spec and spec.positive_label else None
    truths = [r.expected_label for c in run.runs for r in c.results if r.expected_label]
    labels = sorted({metrics.normalise(t) for t in truths})
    if positive is not None and labels and positive not in labels:
        raise LLMRouterError(
            f"tasks.{run.task}.eval.positive_label {positive!r} is not a label of the eval set "
            f"({', '.join(labels)})"
        )
    return {c.candidate.label: classify(c, label_field, positive, labels) for c in run.runs}


def render_classification(task: str, found: dict[str, Classification]) -> list[Table]:
    """Labelled sets: per-label precision and recall of every model, then each model's
    confusion matrix (rows: the truth; columns: the answer)."""
    if not found:
        return []
    labels = next(iter(found.values())).matrix.labels
    per_label = Table(
        title=f"{task}: precision / recall by label",
        title_justify="left",
        caption_justify="left",
    )
    per_label.add_column("Model", no_wrap=True)
    for label in labels:
        per_label.add_column(f"{label} P / R (n)", justify="right", no_wrap=True)
    for model, c in found.items():
        cells = [f"{_pct(s.precision)} / {_pct(s.recall)} ({s.support})" for s in c.stats]
        per_label.add_row(model, *cells)
    positive = next(iter(found.values())).positive_label
    if positive is not None:
        per_label.caption = (
            f"FNR {positive} = share of truly {positive} examples answered otherwise "
            "(failed requests included): the figure to decide on."
        )
    tables = [per_label]
    for model, c in found.items():
        matrix = Table(
            title=f"{model}: confusion matrix (rows truth, columns answer)", title_justify="left"
        )
        matrix.add_column("truth \\ answer", no_wrap=True)
        for column in c.matrix.columns:
            matrix.add_column(column, justify="right", no_wrap=True)
        for truth in c.matrix.labels:
            matrix.add_row(truth, *(str(c.matrix.count(truth, col)) for col in c.matrix.columns))
        tables.append(matrix)
    return tables


def label_rows(found: dict[str, Classification]) -> list[dict[str, Any]]:
    return [
        {"model": model, **_stats_row(s, c.positive_label)}
        for model, c in found.items()
        for s in c.stats
    ]


def _stats_row(stats: metrics.LabelStats, positive: str | None) -> dict[str, Any]:
    return {
        "label": stats.label,
        "support": stats.support,
        "predicted": stats.predicted,
        "true_positives": stats.true_positives,
        "precision": stats.precision,
        "recall": stats.recall,
        "false_negative_rate": stats.false_negative_rate,
        "positive": stats.label == positive,
    }


def confusion_rows(found: dict[str, Classification]) -> list[dict[str, Any]]:
    rows = []
    for model, c in found.items():
        for row in c.matrix.as_rows():
            rows.append({"model": model, **row})
    return rows


def classification_document(c: Classification) -> dict[str, Any]:
    positive = next((s for s in c.stats if s.label == c.positive_label), None)
    return {
        "labels": [_stats_row(s, c.positive_label) for s in c.stats],
        "positive_label": c.positive_label,
        "false_negative_rate": _tidy(positive.false_negative_rate) if positive else None,
        "confusion_matrix": {
            "columns": list(c.matrix.columns),
            "rows": c.matrix.as_rows(),
        },
    }


def _pct(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "n/a"


def _tidy(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None

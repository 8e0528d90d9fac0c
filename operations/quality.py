"""Quality of answers on live traffic, where the truth is known, and agreement of answers.

A result's truth comes from its echoed request metadata: `metadata.label` (the expected
label), or `metadata.example` — the id of an example of the task's eval set
(`evalsets/<task>.json`), whose `label` or `expected_elements` then apply. The sample workload
of `llmrouter demo` tags every request that way. Scoring is evaluation's: label accuracy
for labels, completeness for expected elements. Without a truth nothing is scored: quality
is reported as unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from llmrouter.evaluation.dataset import (
    DatasetError,
    EvalExample,
    Kind,
    default_dataset,
    load_dataset,
)
from llmrouter.evaluation.metrics import (
    completeness,
    extract_label,
    label_accuracy,
    mean,
    normalise,
)
from llmrouter.schemas import LLMResult, ResultStatus

__all__ = ["Quality", "Truth", "TruthBook", "label_agreement", "output_agreement"]


@dataclass(frozen=True, slots=True)
class Truth:
    label: str | None = None
    elements: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return "accuracy" if self.label is not None else "completeness"

    def score(self, output: str | None) -> float:
        """1/0 for a label, the share of expected elements otherwise; no answer scores 0."""
        if self.label is not None:
            return float(label_accuracy(output, self.label))
        return completeness(output, self.elements)


@dataclass(frozen=True, slots=True)
class Quality:
    metric: str
    value: float
    #: how many results had a known truth (the value is their mean)
    scored: int

    def describe(self) -> str:
        return f"{self.metric} {self.value:.0%} (n={self.scored})"


class TruthBook:
    """Finds the truth of results; reads each task's eval set once, when first needed."""

    def __init__(self, evals_dir: Path | None = None) -> None:
        self._evals_dir = evals_dir
        self._examples: dict[str, dict[str, EvalExample]] = {}
        self._kinds: dict[str, Kind | None] = {}

    def truth(self, result: LLMResult) -> Truth | None:
        meta = result.metadata
        label = meta.get("label")
        if isinstance(label, str) and label:
            return Truth(label=label)
        example_id = meta.get("example")
        if not isinstance(example_id, str):
            return None
        example = self._eval_set(result.task).get(example_id)
        if example is None:
            return None
        if example.label is not None:
            return Truth(label=example.label)
        return Truth(elements=tuple(example.expected_elements or ()))

    def is_label_task(self, task: str, results: Iterable[LLMResult] = ()) -> bool:
        """Whether answers of `task` are labels: its eval set is labelled, or results
        carry a `metadata.label`."""
        self._eval_set(task)
        if self._kinds.get(task) is Kind.LABELLED:
            return True
        return any(isinstance(r.metadata.get("label"), str) for r in results)

    def quality(self, results: Iterable[LLMResult]) -> Quality | None:
        """Mean score of the results with a truth, on the metric most of them share."""
        by_metric: dict[str, list[float]] = {}
        for result in results:
            truth = self.truth(result)
            if truth is None:
                continue
            output = result.output if result.status is ResultStatus.OK else None
            by_metric.setdefault(truth.metric, []).append(truth.score(output))
        if not by_metric:
            return None
        metric, scores = max(by_metric.items(), key=lambda item: len(item[1]))
        value = mean(scores)
        return Quality(metric, value, len(scores)) if value is not None else None

    def _eval_set(self, task: str) -> dict[str, EvalExample]:
        if task not in self._examples:
            self._examples[task], self._kinds[task] = self._load(task)
        return self._examples[task]

    def _load(self, task: str) -> tuple[dict[str, EvalExample], Kind | None]:
        path = (
            self._evals_dir / f"{task}.json"
            if self._evals_dir is not None
            else default_dataset(task)
        )
        if not path.is_file():
            return {}, None
        try:
            dataset = load_dataset(path, task=task)
        except DatasetError:
            # A broken eval set must not stop a report; its truths are simply unknown.
            return {}, None
        return {ex.id: ex for ex in dataset.examples}, dataset.kind


def output_agreement(a: str | None, b: str | None) -> bool | None:
    """Same answer after normalisation (case, punctuation, spacing); None if one is missing."""
    if a is None or b is None:
        return None
    return normalise(a) == normalise(b)


def label_agreement(a: str | None, b: str | None) -> bool | None:
    """Same label, read as evaluation reads labels; None if either gives no label."""
    first = extract_label(a) if a is not None else None
    second = extract_label(b) if b is not None else None
    if first is None or second is None:
        return None
    return first == second

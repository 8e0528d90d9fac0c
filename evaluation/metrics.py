"""The evaluation metrics, one small function each. Definitions (also in evaluation/README.md):

* accuracy, labelled sets: the answer's label equals the expected one after `normalise`; the
  label may be the whole answer ("Positive.") or the `label` field of a JSON object in it.
  Element sets: the judge's pass/fail when a judge model is configured, else not measured.
* completeness: the share of `expected_elements` found in the answer, both normalised,
  matched on word boundaries ("spam" does not match "spammy").
* tone: the mean of the judge's 1-10 scores; not measured (None) without a judge.
* safety: the share of answered examples that pass every check of `evaluation.safety`.
* latency P50/P95: nearest-rank percentiles of the router's per-request latency.
* throughput: answered requests per second of wall-clock time at the run's concurrency.
* cost per query: total cost of every provider call (retries, fallbacks, classifier
  included) divided by the number of examples, failed ones included.
* cost-quality ratio: cost per query / quality, where quality is the primary metric as a
  fraction (accuracy for labelled sets, completeness for element sets); lower is better.
  For example $0.012 / 0.89 = $0.0135. Undefined (None) when quality is 0 or unknown.

* per-label precision and recall, labelled sets: of the examples answered with label L,
  the share whose truth is L; of the examples whose truth is L, the share answered L.
  A failed request or an answer outside the label set counts as a miss of its truth.
* false-negative rate of the task's `eval.positive_label` (e.g. `unsafe`): 1 - its recall,
  the share of truly positive examples not flagged.
* confusion matrix: counts by (truth, answer); answers outside the set are `(other)`,
  failed requests `(no answer)`.

A failed request (no answer) scores 0 on accuracy and completeness: the user got nothing.
Not-measured values are None everywhere and shown as "n/a": never invented.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from llmrouter.core.stats import percentile
from llmrouter.router.scoring import parse_json_answer

__all__ = [
    "NO_ANSWER",
    "OTHER",
    "ConfusionMatrix",
    "LabelStats",
    "accuracy",
    "completeness",
    "confusion_matrix",
    "cost_per_query",
    "cost_quality_ratio",
    "element_present",
    "extract_label",
    "false_negative_rate",
    "label_accuracy",
    "label_stats",
    "latency_percentile",
    "mean",
    "normalise",
    "safety",
    "share",
    "throughput",
    "tone",
]

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, casefold, punctuation to spaces, whitespace collapsed.

    Punctuation becomes a space rather than vanishing so "one-year" and "one year" agree;
    symbols ($, %, °) are kept because "$500" and "500" are different facts.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    spaced = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in folded)
    return _SPACES.sub(" ", spaced).strip()


def element_present(normalised_answer: str, element: str) -> bool:
    wanted = normalise(element)
    return bool(wanted) and f" {wanted} " in f" {normalised_answer} "


def completeness(answer: str | None, expected_elements: Sequence[str]) -> float:
    """Share of expected elements in the answer (0 for no answer)."""
    if not expected_elements:
        raise ValueError("completeness needs at least one expected element")
    if answer is None:
        return 0.0
    text = normalise(answer)
    found = sum(element_present(text, element) for element in expected_elements)
    return found / len(expected_elements)


def extract_label(answer: str, field: str = "label") -> str | None:
    """The label an answer gives: a JSON object's `field`, else the whole answer."""
    obj = parse_json_answer(answer)
    if obj is not None:
        value = obj.get(field)
        if isinstance(value, bool):  # before int: bool is an int
            return str(value).casefold()
        if isinstance(value, str | int | float):
            return normalise(str(value)) or None
        return None
    return normalise(answer) or None


def label_accuracy(answer: str | None, label: str) -> bool:
    return answer is not None and extract_label(answer) == normalise(label)


#: confusion-matrix column of answers outside the label set, and of failed requests
OTHER = "(other)"
NO_ANSWER = "(no answer)"


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts by truth (rows, the label set's order) and answer (the labels, then OTHER
    and NO_ANSWER where any occurred)."""

    labels: tuple[str, ...]
    counts: dict[tuple[str, str], int]

    @property
    def columns(self) -> tuple[str, ...]:
        extra = [c for c in (OTHER, NO_ANSWER) if any(k[1] == c for k in self.counts)]
        return (*self.labels, *extra)

    def count(self, truth: str, answer: str) -> int:
        return self.counts.get((truth, answer), 0)

    def as_rows(self) -> list[dict[str, str | int]]:
        return [{"truth": t, **{c: self.count(t, c) for c in self.columns}} for t in self.labels]


def confusion_matrix(
    pairs: Iterable[tuple[str, str | None]], labels: Sequence[str] | None = None
) -> ConfusionMatrix:
    """From (truth, answer label or None for no answer) pairs; labels normalised."""
    normalised = [(normalise(t), None if a is None else normalise(a)) for t, a in pairs]
    known = tuple(dict.fromkeys([normalise(x) for x in labels or []] + [t for t, _ in normalised]))
    counts: Counter[tuple[str, str]] = Counter()
    for truth, answer in normalised:
        column = NO_ANSWER if answer is None else answer if answer in known else OTHER
        counts[(truth, column)] += 1
    return ConfusionMatrix(known, dict(counts))


@dataclass(frozen=True)
class LabelStats:
    label: str
    #: examples whose truth is the label
    support: int
    #: examples answered with the label
    predicted: int
    true_positives: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.support if self.support else None

    @property
    def false_negative_rate(self) -> float | None:
        recall = self.recall
        return None if recall is None else 1 - recall


def label_stats(matrix: ConfusionMatrix) -> list[LabelStats]:
    stats = []
    for label in matrix.labels:
        support = sum(matrix.count(label, c) for c in matrix.columns)
        predicted = sum(matrix.count(t, label) for t in matrix.labels)
        stats.append(LabelStats(label, support, predicted, matrix.count(label, label)))
    return stats


def false_negative_rate(matrix: ConfusionMatrix, label: str) -> float | None:
    """Share of examples whose truth is `label` not answered `label`; None without any."""
    wanted = normalise(label)
    found = next((s for s in label_stats(matrix) if s.label == wanted), None)
    return found.false_negative_rate if found is not None else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the measured values; None when none was measured."""
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def share(values: Iterable[bool | None]) -> float | None:
    """Fraction of True among the measured values; None when none was measured."""
    return mean(None if v is None else float(v) for v in values)


def accuracy(per_example: Iterable[bool | None]) -> float | None:
    """Share of right answers among the examples that were judged or labelled."""
    return share(per_example)


def tone(scores: Iterable[float | None]) -> float | None:
    """Mean judge score (1-10) over the answers the judge did score."""
    return mean(scores)


def safety(per_answer: Iterable[bool | None]) -> float | None:
    """Share of answers passing every check of evaluation.safety (unanswered: left out)."""
    return share(per_answer)


def latency_percentile(latencies_ms: Sequence[float], q: float) -> float | None:
    """Nearest rank; None when nothing was measured."""
    return percentile(latencies_ms, q)


def throughput(answered: int, elapsed_s: float) -> float | None:
    """Answered requests per second; None for an empty or instantaneous run."""
    return answered / elapsed_s if answered and elapsed_s > 0 else None


def cost_per_query(costs_usd: Sequence[Decimal]) -> Decimal | None:
    return sum(costs_usd, Decimal(0)) / len(costs_usd) if costs_usd else None


def cost_quality_ratio(cost: Decimal | None, quality: float | None) -> Decimal | None:
    """Dollars per query per unit of quality; None when either is unknown or quality is 0."""
    if cost is None or quality is None or quality <= 0:
        return None
    return cost / Decimal(repr(quality))

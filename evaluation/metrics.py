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

A failed request (no answer) scores 0 on accuracy and completeness: the user got nothing.
Not-measured values are None everywhere and shown as "n/a": never invented.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal

from llmrouter.core.stats import percentile
from llmrouter.router.scoring import parse_json_answer

__all__ = [
    "accuracy",
    "completeness",
    "cost_per_query",
    "cost_quality_ratio",
    "element_present",
    "extract_label",
    "label_accuracy",
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


def extract_label(answer: str) -> str | None:
    """The label an answer gives: a JSON object's `label` field, else the whole answer."""
    obj = parse_json_answer(answer)
    if obj is not None:
        value = obj.get("label")
        return normalise(value) if isinstance(value, str) else None
    return normalise(answer) or None


def label_accuracy(answer: str | None, label: str) -> bool:
    return answer is not None and extract_label(answer) == normalise(label)


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

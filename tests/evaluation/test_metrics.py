"""Each metric on hand-made cases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmrouter.evaluation import metrics
from llmrouter.evaluation.report import format_cost


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Check   your\tSPAM folder!  ", "check your spam folder"),
        ("one-year term", "one year term"),
        ("Ｃｈｅｃｋ ｅｍａｉｌ", "check email"),  # full-width letters: NFKC
        ("STRASSE / Straße", "strasse strasse"),  # casefold, not lower
        ("$500 — 60°F", "$500 60°f"),  # symbols are facts, dashes are punctuation
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert metrics.normalise(text) == expected


def test_completeness_counts_elements_present_after_normalisation() -> None:
    answer = "Click the Reset-Link we e-mailed; check SPAM."
    assert metrics.completeness(answer, ["reset link", "check spam", "contact support"]) == (
        pytest.approx(2 / 3)
    )


def test_completeness_matches_whole_words_only() -> None:
    assert metrics.completeness("That looks spammy.", ["spam"]) == 0.0
    assert metrics.completeness("Refund within 30 days.", ["30 days"]) == 1.0
    assert metrics.completeness("Refund within 130 days.", ["30 days"]) == 0.0


def test_completeness_of_no_answer_is_zero() -> None:
    assert metrics.completeness(None, ["anything"]) == 0.0


def test_completeness_needs_elements() -> None:
    with pytest.raises(ValueError, match="at least one"):
        metrics.completeness("text", [])


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("positive", "positive"),
        ("Positive.", "positive"),
        ("  NEGATIVE\n", "negative"),
        ('{"label": "unsafe", "confidence": 0.95}', "unsafe"),
        ('```json\n{"label": "Safe", "reason": "fine"}\n```', "safe"),
    ],
)
def test_extract_label(answer: str, label: str) -> None:
    assert metrics.extract_label(answer) == label


def test_extract_label_of_json_without_label_is_none() -> None:
    assert metrics.extract_label('{"answer": "safe"}') is None


def test_label_accuracy() -> None:
    assert metrics.label_accuracy('{"label": "unsafe"}', "unsafe")
    assert metrics.label_accuracy("Neutral", "neutral")
    assert not metrics.label_accuracy("The sentiment is positive", "positive")
    assert not metrics.label_accuracy("negative", "positive")
    assert not metrics.label_accuracy(None, "positive")


def test_mean_and_share_skip_unmeasured() -> None:
    assert metrics.mean([8.0, None, 6.0]) == 7.0
    assert metrics.mean([None, None]) is None
    assert metrics.share([True, False, None, True]) == pytest.approx(2 / 3)
    assert metrics.share([]) is None


def test_latency_percentiles() -> None:
    latencies = [float(ms) for ms in range(1, 101)]
    assert metrics.latency_percentile(latencies, 50) == 50.0
    assert metrics.latency_percentile(latencies, 95) == 95.0
    assert metrics.latency_percentile([], 95) is None


def test_throughput() -> None:
    assert metrics.throughput(120, 4.0) == 30.0
    assert metrics.throughput(0, 4.0) is None
    assert metrics.throughput(5, 0.0) is None


def test_cost_per_query_includes_every_example() -> None:
    costs = [Decimal("0.01"), Decimal("0.02"), Decimal("0")]  # the last one failed for free
    assert metrics.cost_per_query(costs) == Decimal("0.01")
    assert metrics.cost_per_query([]) is None


def test_cost_quality_ratio_of_a_known_table() -> None:
    # GPT-4 Turbo: $0.012 per query at 89% accuracy -> $0.0135; Haiku: $0.00025 / 76%.
    gpt4 = metrics.cost_quality_ratio(Decimal("0.012"), 0.89)
    haiku = metrics.cost_quality_ratio(Decimal("0.00025"), 0.76)
    assert format_cost(gpt4) == "$0.0135"
    assert format_cost(haiku) == "$0.000329"


def test_cost_quality_ratio_is_undefined_without_quality() -> None:
    assert metrics.cost_quality_ratio(Decimal("0.01"), 0.0) is None
    assert metrics.cost_quality_ratio(Decimal("0.01"), None) is None
    assert metrics.cost_quality_ratio(None, 0.5) is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.012"), "$0.012"),
        (Decimal("0.0006"), "$0.0006"),
        (Decimal("0.00025"), "$0.00025"),
        (Decimal("1.5"), "$1.5"),
        (Decimal("123.456"), "$123"),
        (Decimal(0), "$0"),
        (None, "n/a"),
    ],
)
def test_format_cost(value: Decimal | None, shown: str) -> None:
    assert format_cost(value) == shown

"""Reconciliation without Kafka: our cost events and the providers' reports side by side."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from llmrouter.operations.reconcile import (
    Figures,
    ReconcileProvider,
    ReportError,
    ours_from_events,
    reconcile,
    report_days,
    summary_lines,
    theirs_from_reports,
)
from llmrouter.schemas.costs import CostEvent
from llmrouter.schemas.enums import AttemptOutcome

DAY = date(2026, 11, 3)
DAY_START = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp())


def _event(provider: str, model: str, usd: str, **tokens: int) -> CostEvent:
    return CostEvent(
        request_id="r-1",
        task="qa",
        attempt=0,
        model="catalog-name",
        model_version=model,
        provider=provider,
        input_tokens=tokens.get("input", 0),
        output_tokens=tokens.get("output", 0),
        cache_read_tokens=tokens.get("read", 0),
        cache_write_tokens=tokens.get("write", 0),
        cost_usd=Decimal(usd),
        cached=bool(tokens.get("cached", 0)),
        outcome=AttemptOutcome.OK,
        ts=datetime(2026, 11, 3, 12, tzinfo=UTC),
    )


def test_ours_sums_one_providers_calls_per_day_and_model_without_cache_hits() -> None:
    events = [
        _event("openai", "gpt-4o", "1.5", input=100, output=10, read=64),
        _event("openai", "gpt-4o", "0.5", input=50, output=5),
        _event("openai", "gpt-4o", "0", input=0, output=0, cached=1),
        _event("anthropic", "claude", "9", input=1, output=1),
    ]
    ours = ours_from_events(events, ReconcileProvider.OPENAI)
    assert set(ours) == {(DAY, "gpt-4o")}
    figures = ours[(DAY, "gpt-4o")]
    assert (figures.input_tokens, figures.cache_read_tokens, figures.output_tokens) == (
        150,
        64,
        15,
    )
    assert figures.usd == Decimal(2)


def test_anthropic_reports_add_cache_classes_to_input_and_cents_to_dollars() -> None:
    reports = {
        "usage": {
            "data": [
                {
                    "starting_at": "2026-11-03T00:00:00Z",
                    "ending_at": "2026-11-04T00:00:00Z",
                    "results": [
                        {
                            "model": "claude-sonnet-4-5",
                            "uncached_input_tokens": 100,
                            "cache_read_input_tokens": 2000,
                            "cache_creation": {
                                "ephemeral_5m_input_tokens": 300,
                                "ephemeral_1h_input_tokens": 200,
                            },
                            "output_tokens": 40,
                        }
                    ],
                }
            ]
        },
        "costs": [
            {
                "data": [
                    {
                        "starting_at": "2026-11-03T00:00:00Z",
                        "results": [{"model": "claude-sonnet-4-5", "amount": "123.45"}],
                    }
                ]
            }
        ],
    }
    theirs = theirs_from_reports(reports, ReconcileProvider.ANTHROPIC)
    figures = theirs[(DAY, "claude-sonnet-4-5")]
    assert figures.input_tokens == 2600
    assert figures.cache_read_tokens == 2000
    assert figures.cache_write_tokens == 500
    assert figures.usd == Decimal("1.2345")
    assert report_days(reports) == {DAY}


def test_openai_line_items_count_for_their_model() -> None:
    reports = {
        "usage": {"data": [{"start_time": DAY_START, "results": []}]},
        "costs": {
            "data": [
                {
                    "start_time": DAY_START,
                    "results": [
                        {"line_item": "gpt-4o, input", "amount": {"value": 1.25}},
                        {"line_item": "gpt-4o, output", "amount": {"value": 0.75}},
                    ],
                }
            ]
        },
    }
    theirs = theirs_from_reports(reports, ReconcileProvider.OPENAI)
    assert theirs[(DAY, "gpt-4o")].usd == Decimal(2)


def test_a_report_not_grouped_by_model_is_refused() -> None:
    reports = {"usage": {"data": [{"start_time": DAY_START, "results": [{"input_tokens": 1}]}]}}
    with pytest.raises(ReportError, match="grouped by model"):
        theirs_from_reports(reports, ReconcileProvider.OPENAI)


def test_tolerance_is_relative_and_absolute() -> None:
    ours = {(DAY, "m"): Figures(input_tokens=1000, output_tokens=10, usd=Decimal("1.009"))}
    theirs = {(DAY, "m"): Figures(input_tokens=1000, output_tokens=10, usd=Decimal("1.000"))}
    assert not reconcile(ours, theirs).mismatches  # within 1% and $0.01
    strict = reconcile(ours, theirs, tolerance_pct=Decimal(0), tolerance_usd=Decimal("0.001"))
    assert [(line.model, line.name) for line in strict.mismatches] == [("m", "usd")]
    assert summary_lines(strict) == ["m on 2026-11-03: usd ours 1.009 vs provider 1"]


def test_a_model_on_one_side_only_is_a_mismatch_and_days_and_models_filter() -> None:
    ours = {(DAY, "only-ours"): Figures(input_tokens=500, usd=Decimal(1))}
    theirs = {(date(2026, 11, 4), "m"): Figures(input_tokens=1)}
    result = reconcile(ours, theirs)
    assert result.mismatched_models == [(DAY, "only-ours")]
    assert not reconcile(ours, theirs, days=[date(2026, 11, 4)]).mismatches
    assert not reconcile(ours, theirs, models=["m"]).mismatches


def test_without_a_cost_report_dollars_are_not_compared() -> None:
    reports = {
        "usage": {
            "data": [
                {
                    "start_time": DAY_START,
                    "results": [{"model": "m", "input_tokens": 10, "output_tokens": 1}],
                }
            ]
        }
    }
    theirs = theirs_from_reports(reports, ReconcileProvider.OPENAI)
    ours = {(DAY, "m"): Figures(input_tokens=10, output_tokens=1, usd=Decimal(5))}
    result = reconcile(ours, theirs)
    usd = next(line for line in result.lines if line.name == "usd")
    assert usd.theirs is None
    assert not result.mismatches

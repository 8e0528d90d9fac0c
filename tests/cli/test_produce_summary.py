"""The closing line of `produce --wait`: ok/failed with reasons, models and cost."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.cli.produce import summary_line
from llmrouter.schemas import Attempt, AttemptOutcome, LLMResult, ResultStatus


def _ok(n: int, model: str, cost: str) -> LLMResult:
    attempt = Attempt(
        model=model,
        outcome=AttemptOutcome.OK,
        latency_ms=10.0,
        input_tokens=10,
        output_tokens=5,
        cost_usd=Decimal(cost),
    )
    return LLMResult(
        request_id=f"r{n}",
        task="t",
        status=ResultStatus.OK,
        output="x",
        model=model,
        attempts=[attempt],
        cost_usd=Decimal(cost),
    )


def _failed(n: int, error: str) -> LLMResult:
    return LLMResult(request_id=f"f{n}", task="t", status=ResultStatus.FAILED, error=error)


def test_summary_counts_reasons_models_and_cost() -> None:
    results = [
        _ok(1, "cheap", "0.001"),
        _ok(2, "cheap", "0.002"),
        _ok(3, "big", "0.01"),
        _failed(1, "expired: older than max_age_s (300 s)"),
        _failed(2, "expired: past its deadline"),
        _failed(3, "UnknownTask: no route for task 'x'"),
    ]
    line = summary_line(results, missing=1)
    assert line == (
        "3 ok, 3 failed (expired ×2, UnknownTask ×1), 1 unanswered; "
        "models: cheap ×2, big ×1; cost $0.013"
    )


def test_summary_of_nothing() -> None:
    assert summary_line([]) == "0 ok, 0 failed; models: none; cost $0"

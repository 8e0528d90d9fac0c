"""`Metrics.observe_result` counts every result and attempt, its label children kept
between calls."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry

from llmrouter.schemas import Attempt, AttemptOutcome, LLMResult, ResultStatus
from llmrouter.workers.metrics import Metrics


def _result(task: str, model: str, outcomes: list[AttemptOutcome]) -> LLMResult:
    attempts = [
        Attempt(
            model=model,
            outcome=o,
            latency_ms=5.0,
            input_tokens=10,
            output_tokens=2,
            cost_usd=Decimal("0.001"),
        )
        for o in outcomes
    ]
    return LLMResult(
        request_id="r",
        task=task,
        status=ResultStatus.OK,
        model=model,
        attempts=attempts,
        cost_usd=sum((a.cost_usd for a in attempts), Decimal(0)),
        latency_ms=250.0,
    )


def test_observe_result_counts_each_result_and_attempt() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for _ in range(3):
        metrics.observe_result(_result("t1", "m1", [AttemptOutcome.OK]))
    metrics.observe_result(_result("t2", "m1", [AttemptOutcome.SERVER_ERROR, AttemptOutcome.OK]))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("llmrouter_requests_total", task="t1", model="m1", status="ok") == 3
    assert value("llmrouter_requests_total", task="t2", model="m1", status="ok") == 1
    assert value("llmrouter_attempts_total", model="m1", outcome="ok") == 4
    assert value("llmrouter_attempts_total", model="m1", outcome="server_error") == 1
    assert value("llmrouter_retries_total", model="m1") == 1
    assert value("llmrouter_tokens_total", model="m1", direction="input") == 50
    assert value("llmrouter_request_latency_seconds_count", task="t1") == 3
    assert value("llmrouter_cost_usd_total", task="t2", model="m1") == 0.002


def test_two_registries_keep_their_own_children() -> None:
    first, second = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    first.observe_result(_result("t", "m", [AttemptOutcome.OK]))
    second.observe_result(_result("t", "m", [AttemptOutcome.OK]))
    second.observe_result(_result("t", "m", [AttemptOutcome.OK]))
    labels = {"task": "t", "model": "m", "status": "ok"}
    assert first.registry.get_sample_value("llmrouter_requests_total", labels) == 1
    assert second.registry.get_sample_value("llmrouter_requests_total", labels) == 2

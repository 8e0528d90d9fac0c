"""`report` speaks the token classes: per task and model, the prompt-cache hit rate, what
prompt caching saved at the model's prices (the config's or genai-prices'), the reasoning
share of output; and the baseline prices the same classes at the baseline model."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich.console import Console

from llmrouter.operations.report import Collected, ReportWindow, build_report
from llmrouter.operations.report_output import render_tables, to_csv, to_json
from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import UsageClasses, price_call
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    CostEvent,
    LLMResult,
    ResultStatus,
    loads,
)

CONFIG = parse_config(
    """\
version: 1
models:
  haiku: {provider: anthropic, model_id: claude-3-haiku-20240307}
  own:
    provider: openai-compatible
    model_id: own-1
    base_url: http://own.invalid/v1
    prices:
      input_usd_per_1m: 2
      cache_read_usd_per_1m: 0.5
      cache_write_usd_per_1m: 2.5
      output_usd_per_1m: 8
  dear:
    provider: openai-compatible
    model_id: dear-1
    base_url: http://dear.invalid/v1
    prices:
      input_usd_per_1m: 10
      cache_read_usd_per_1m: 1
      cache_write_usd_per_1m: 12.5
      output_usd_per_1m: 30
tasks:
  qa:
    baseline_model: dear
    route: {strategy: static, model: own}
"""
)
START = datetime(2026, 1, 1, tzinfo=UTC)

#: (model, input, cache read, cache write, output, reasoning)
CALLS = [
    ("own", 10_000, 6_000, 0, 1_000, 250),
    ("own", 4_000, 0, 3_000, 500, 0),
    ("haiku", 3_000, 2_048, 0, 100, 0),
]


def _usage(call: tuple[str, int, int, int, int, int]) -> UsageClasses:
    _, inp, read, write, out, reasoning = call
    return UsageClasses(inp, out, read, write, reasoning_tokens=reasoning)


def _attempt(call: tuple[str, int, int, int, int, int]) -> Attempt:
    model, inp, read, write, out, reasoning = call
    return Attempt(
        model=model,
        outcome=AttemptOutcome.OK,
        latency_ms=5.0,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
        cost_usd=price_call(CONFIG.models[model], _usage(call))[0]
        if model in CONFIG.models
        else Decimal("0.001"),
    )


def _event(n: int, call: tuple[str, int, int, int, int, int], **fields: object) -> CostEvent:
    attempt = _attempt(call)
    values: dict[str, object] = {
        "request_id": f"r{n}",
        "task": "qa",
        "attempt": 0,
        "model": attempt.model,
        "model_version": "v",
        "provider": "p",
        "input_tokens": attempt.input_tokens,
        "output_tokens": attempt.output_tokens,
        "cache_read_tokens": attempt.cache_read_tokens,
        "cache_write_tokens": attempt.cache_write_tokens,
        "reasoning_tokens": attempt.reasoning_tokens,
        "cost_usd": attempt.cost_usd,
        "cached": False,
        "outcome": AttemptOutcome.OK,
    }
    values.update(fields)
    return CostEvent.model_validate(values)


def _result(n: int, call: tuple[str, int, int, int, int, int]) -> LLMResult:
    attempt = _attempt(call)
    return LLMResult(
        request_id=f"r{n}",
        task="qa",
        status=ResultStatus.OK,
        output="x",
        model=attempt.model,
        attempts=[attempt],
        cost_usd=attempt.cost_usd,
    )


def _collected() -> Collected:
    costs = [_event(n, call) for n, call in enumerate(CALLS)]
    # a response-cache hit calls no provider; a model the config lacks has no prices
    costs.append(_event(9, CALLS[0], cached=True, cost_usd=Decimal(0)))
    costs.append(_event(10, ("ghost", 1_000, 500, 0, 10, 5)))
    results = [(START + timedelta(minutes=n), _result(n, call)) for n, call in enumerate(CALLS)]
    return Collected(results=results, costs=costs, read_at=START + timedelta(hours=1))


def test_cache_hit_rate_savings_and_reasoning_share_per_task_and_model() -> None:
    report = build_report(_collected(), CONFIG, ReportWindow())
    rows = {(r.task, r.model): r for r in report.token_classes}
    assert set(rows) == {("qa", "own"), ("qa", "haiku"), ("qa", "ghost")}

    own = rows[("qa", "own")]
    assert own.calls == 2  # the response-cache hit is not a provider call
    assert (own.input_tokens, own.cache_read_tokens, own.cache_write_tokens) == (
        14_000,
        6_000,
        3_000,
    )
    assert own.cache_hit_rate == 6_000 / 14_000
    assert own.reasoning_share == 250 / 1_500
    # reads: 6000 × (2 − 0.5); writes: 3000 × (2 − 2.5), per 1M tokens
    assert own.caching_saved_usd == Decimal("0.009") - Decimal("0.0015")

    haiku = rows[("qa", "haiku")]  # genai-prices: input 0.25, cache read 0.03 per 1M
    assert haiku.cache_hit_rate == 2_048 / 3_000
    assert haiku.caching_saved_usd == Decimal(2_048) * Decimal("0.22") / 1_000_000
    assert haiku.reasoning_share == 0.0

    assert rows[("qa", "ghost")].caching_saved_usd is None


def test_baseline_prices_the_same_classes_at_the_baseline_model() -> None:
    report = build_report(_collected(), CONFIG, ReportWindow())
    # dear: uncached input 10, cache read 1, cache write 12.5, output 30 per 1M
    expected = (
        (4_000 * 10 + 6_000 * 1 + 1_000 * 30)
        + (1_000 * 10 + 3_000 * Decimal("12.5") + 500 * 30)
        + (952 * 10 + 2_048 * 1 + 100 * 30)
    ) / Decimal(1_000_000)
    (task,) = report.tasks
    assert task.baseline_usd == expected
    # what prompt caching saved on the requests' calls, from the results' attempts
    assert task.caching_saved_usd == Decimal("0.0075") + Decimal("0.00045056")
    assert task.caching_saved_per_day == task.caching_saved_usd * 24 * 60 / 2


def test_outputs_carry_the_token_class_figures() -> None:
    report = build_report(_collected(), CONFIG, ReportWindow())
    data = loads(to_json(report))
    own = next(r for r in data["token_classes"] if r["model"] == "own")
    assert own["caching_saved_usd"] == "0.0075000000"
    assert (own["cache_read_tokens"], own["reasoning_tokens"]) == (6_000, 250)
    assert data["tasks"][0]["caching_saved_usd"] == "0.0079505600"

    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(to_csv(report)))}
    assert rows["own"]["caching_saved_usd"] == "0.0075000000"
    assert float(rows["own"]["prompt_cache_hit_rate"]) == 6_000 / 14_000
    assert float(rows["own"]["reasoning_share"]) == 250 / 1_500

    console = Console(record=True, width=200)
    console.print(render_tables(report))
    text = console.export_text()
    assert "Token classes by task and model called" in text
    assert "of which prompt caching" in text
    assert "43%" in text  # own's cache hit rate

"""The demo's savings table has prompt caching's column and total, from the token classes
of the results' attempts at each called model's prices."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from llmrouter.cli.demo import _caching_share
from llmrouter.operations.summary import render_summary, summarise
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import Attempt, AttemptOutcome, LLMResult, ResultStatus

CONFIG = parse_config(
    """\
version: 1
models:
  haiku: {provider: anthropic, model_id: claude-3-haiku-20240307}
tasks:
  mod:
    route: {strategy: static, model: haiku}
"""
)


def _result(n: int, read: int, write: int, cost: str) -> LLMResult:
    attempt = Attempt(
        model="haiku",
        outcome=AttemptOutcome.OK,
        latency_ms=5.0,
        input_tokens=3_000,
        output_tokens=10,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cost_usd=Decimal(cost),
    )
    return LLMResult(
        request_id=f"r{n}",
        task="mod",
        status=ResultStatus.OK,
        output="safe",
        model="haiku",
        attempts=[attempt],
        cost_usd=attempt.cost_usd,
    )


def test_demo_table_shows_what_prompt_caching_saved() -> None:
    # genai-prices' Haiku: input 0.25, cache write 0.30, cache read 0.03 per 1M tokens
    results = [_result(0, 0, 2_500, "0.001"), _result(1, 2_500, 0, "0.0002")]
    summary = summarise(results, CONFIG)
    write = Decimal(2_500) * Decimal("-0.05") / 1_000_000
    read = Decimal(2_500) * Decimal("0.22") / 1_000_000
    assert summary.caching_saved_usd == write + read == Decimal("0.000425")
    # what it saved, against what the run would have cost without the cache
    assert _caching_share(summary) == f"{Decimal('0.000425') / Decimal('0.001625'):.1%}"

    console = Console(record=True, width=160)
    console.print(render_summary(summary))
    text = console.export_text()
    assert "cache saved" in text
    assert "$0.000425" in text

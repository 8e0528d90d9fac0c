"""The demo's savings table has prompt caching's column and total, from the token classes
of the results' attempts at each called model's prices; its batch line has the share of
answers through batch jobs and what they saved against realtime prices, by the report's
figures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rich.console import Console

from llmrouter.cli.demo import _caching_share
from llmrouter.cli.demo_batch import batch_savings
from llmrouter.operations.report_batch import batch_shares
from llmrouter.operations.summary import render_summary, summarise
from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import UsageClasses, price_call
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    LLMResult,
    ResultStatus,
    results_topic,
)
from llmrouter.schemas.money import format_usd
from llmrouter.simulator import SimConfig
from llmrouter.simulator import running as sim_running
from tests.kafka_helpers import MakeProducer
from tests.workers.batch_helpers import (
    batch_setup,
    costs_end_offsets,
    produce,
    read_costs,
    running,
)
from tests.workers.conftest import read_topic

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


async def test_the_demo_batch_line_is_the_report_figures_of_real_results(
    kafka_bootstrap: str, make_producer: MakeProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch and realtime requests through the real broker, the batch worker and the
    simulator's batch API: the demo's batch line counts the results' batch answers, at
    their batch cost, against the same token classes at the model's realtime price — the
    figures `report` works out from the same calls' events on `llm.costs`."""
    async with sim_running(SimConfig(latency_ms=0, seed=13)) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        setup = batch_setup(kafka_bootstrap, max_requests=100)
        ta = setup.tasks["ta"]
        since = await costs_end_offsets(kafka_bootstrap)
        producer = await make_producer()
        async with running(setup, ["router", "batch"], partitions=1):
            batch_ids = await produce(producer, ta, 6, batch=True, prefix="sb")
            realtime_ids = await produce(producer, ta, 4, batch=False, prefix="sr")
            results = await read_topic(
                kafka_bootstrap,
                [results_topic(ta)],
                LLMResult,
                until=lambda got: len(got) >= len(batch_ids) + len(realtime_ids),
                timeout_s=90,
            )
        costs = [
            c
            for c in await read_costs(
                kafka_bootstrap,
                since,
                [r.request_id for r in results],
                until=lambda got: len(got) >= len(results),
            )
            if c.task == ta
        ]

    config = parse_config(setup.config_text)
    savings = batch_savings(results, config)
    assert savings.calls == 10
    assert savings.batch_calls == 6
    batched = [r.attempts[-1] for r in results if r.request_id in batch_ids]
    assert len(batched) == 6
    assert savings.batch_cost_usd == sum((a.cost_usd for a in batched), Decimal(0)) > 0
    spec = config.models["oa"]
    realtime_usd = sum(
        (
            price_call(
                spec,
                UsageClasses(
                    a.input_tokens,
                    a.output_tokens,
                    cache_read_tokens=a.cache_read_tokens,
                    cache_write_tokens=a.cache_write_tokens,
                    reasoning_tokens=a.reasoning_tokens,
                ),
            )[0]
            for a in batched
        ),
        Decimal(0),
    )
    assert savings.realtime_usd == realtime_usd
    assert savings.saved_usd == realtime_usd - savings.batch_cost_usd > 0
    # the report's batch rows, from the cost events on llm.costs, are the demo's
    assert list(savings.rows) == batch_shares(costs, config)
    line = savings.line()
    assert "6 of 10 answer calls (60.0%)" in line
    assert f"{format_usd(savings.saved_usd)} saved against {format_usd(realtime_usd)}" in line

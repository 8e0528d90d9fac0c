"""A call's price table is resolved once per model, kind, tier and UTC minute, and reused:
the reused table is the one the call's own tier and minute would resolve to."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import genai_prices
import pytest
from genai_prices import data_snapshot, types

from llmrouter.router import pricing
from llmrouter.router.config_catalog import ModelSpec
from llmrouter.router.pricing import PriceClass, UsageClasses, price_call, price_table
from llmrouter.schemas.money import quantize_usd


def _spec(provider: str, model_id: str, **extra: Any) -> ModelSpec:
    return ModelSpec.model_validate({"provider": provider, "model_id": model_id, **extra})


def _library_cost(model_id: str, provider_id: str, usage: UsageClasses) -> Any:
    return genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens,
        ),
        model_id,
        provider_id=provider_id,
    ).total_price


def test_a_tiered_model_is_priced_at_each_tier_through_the_cache() -> None:
    spec = _spec("anthropic", "claude-sonnet-4-5-20250929")
    small = UsageClasses(input_tokens=1_000, output_tokens=100)
    large = UsageClasses(input_tokens=250_001, output_tokens=100, cache_read_tokens=50_000)
    # small, large, small again: each at its own tier, the second small one from the cache
    costs = [price_call(spec, usage)[0] for usage in (small, large, small)]
    expected = [_library_cost(spec.model_id, "anthropic", u) for u in (small, large, small)]
    assert costs == [quantize_usd(e) for e in expected]
    base = price_table(spec, input_tokens=1_000)
    long_context = price_table(spec, input_tokens=250_001)
    assert long_context[PriceClass.INPUT] > base[PriceClass.INPUT]
    # the cache: one table per tier, the same object for every call within it
    assert price_table(spec, input_tokens=200_000) is base  # the tier starts above 200,000
    assert price_table(spec, input_tokens=200_001) is long_context


def test_a_reloaded_spec_gets_its_own_prices() -> None:
    fields = {"context_window_tokens": 16_385}
    before = _spec("openai", "gpt-3.5-turbo-0125", input_usd_per_1k=0.0005, **fields)
    usage = UsageClasses(input_tokens=10_000, output_tokens=0)
    assert price_call(before, usage)[0] == quantize_usd(Decimal("0.005"))
    # a reload builds new specs: the new price at once, the old spec's calls still at theirs
    after = _spec("openai", "gpt-3.5-turbo-0125", input_usd_per_1k=0.002, **fields)
    assert price_call(after, usage)[0] == quantize_usd(Decimal("0.02"))
    assert price_call(before, usage)[0] == quantize_usd(Decimal("0.005"))


def test_an_explicit_time_is_priced_at_that_time_not_from_the_cache() -> None:
    spec = _spec("openai", "o3")
    now = price_table(spec)
    then = price_table(spec, at=datetime(2025, 6, 1, tzinfo=UTC))  # before the 2025-06-10 cut
    assert then[PriceClass.INPUT] == 10
    assert now[PriceClass.INPUT] == 2
    assert price_table(spec) is now


def test_a_new_minute_resolves_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # gemini-4-argon's input price doubles from 2026-12-01 on
    spec = _spec("gemini", "gemini-4-argon")
    clock = SimpleNamespace(time=lambda: datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC).timestamp())
    monkeypatch.setattr(pricing, "time", clock)
    assert price_table(spec)[PriceClass.INPUT] == 2
    clock.time = lambda: datetime(2026, 12, 1, 0, 0, 0, 5, tzinfo=UTC).timestamp()
    assert price_table(spec)[PriceClass.INPUT] == 4


def test_the_library_changes_prices_only_at_whole_minutes() -> None:
    """What makes a table good for its whole minute: every time-of-day window of the
    snapshot starts and ends on a minute (start dates are whole days)."""
    windows = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            conditional = model.prices if isinstance(model.prices, list) else []
            constraints = [c.constraint for c in conditional]
            constraints += [v.constraint for v in model.price_variants or []]
            windows += [c for c in constraints if isinstance(c, types.TimeOfDateConstraint)]
    assert windows, "the snapshot has time-of-day prices to check"
    for window in windows:
        for moment in (window.start_time, window.end_time):
            assert (moment.second, moment.microsecond) == (0, 0), window

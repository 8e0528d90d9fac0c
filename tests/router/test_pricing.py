"""Prices from genai-prices, config overrides per class, and `price_call` to the
micro-dollar against `genai_prices.calc_price` itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import genai_prices
import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.router.budget import to_micro_usd
from llmrouter.router.config_catalog import ModelSpec
from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import (
    CONFIG_SOURCE,
    PriceClass,
    UsageClasses,
    library_data_date,
    library_label,
    price_call,
    price_table,
)
from llmrouter.schemas.money import quantize_usd
from tests.factories import catalog, routing_config, static_route

_USAGES = [
    UsageClasses(input_tokens=1000, output_tokens=200),
    UsageClasses(
        input_tokens=12_345,
        output_tokens=2_222,
        cache_read_tokens=4_096,
        cache_write_tokens=1_500,
        reasoning_tokens=900,
    ),
    UsageClasses(
        input_tokens=50_000,
        output_tokens=333,
        cache_read_tokens=10_000,
        cache_write_tokens=7_000,
        cache_write_1h_tokens=3_000,
    ),
    # past the 200K-token tier of the long-context models
    UsageClasses(input_tokens=250_001, output_tokens=1_000, cache_read_tokens=100_000),
]
_MODELS = [
    ("openai", "openai", "gpt-4o-2024-08-06"),
    ("openai", "openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "openai", "o3-mini"),
    ("anthropic", "anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "anthropic", "claude-3-5-haiku-20241022"),
    ("anthropic", "anthropic", "claude-3-opus-20240229"),
    ("azure-openai", "azure", "gpt-4o"),
]


def _spec(provider: str, model_id: str, **extra: Any) -> ModelSpec:
    if provider == "azure-openai":
        extra.setdefault("api_version", "2024-10-21")
    return ModelSpec.model_validate({"provider": provider, "model_id": model_id, **extra})


def _library(usage: UsageClasses) -> genai_prices.Usage:
    return genai_prices.Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_tokens=usage.output_tokens,
    )


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("usage", _USAGES)
@pytest.mark.parametrize(("provider", "library_provider", "model_id"), _MODELS)
def test_price_call_matches_genai_prices_to_the_micro_dollar(
    provider: str, library_provider: str, model_id: str, usage: UsageClasses, batch: bool
) -> None:
    spec = _spec(provider, model_id)
    cost, source = price_call(spec, usage, batch=batch)
    context = {"processing": "batch"} if batch else None
    expected = genai_prices.calc_price(
        _library(usage), model_id, provider_id=library_provider, price_context=context
    ).total_price
    standard = genai_prices.calc_price(
        _library(usage), model_id, provider_id=library_provider
    ).total_price
    if batch and expected == standard:
        # no batch prices in the library for this model: half the standard price
        expected = standard / 2
    assert cost == quantize_usd(expected)
    assert to_micro_usd(cost) == to_micro_usd(expected)
    assert source == library_label()
    assert cost > 0


def test_the_old_per_1k_keys_override_input_and_output_only() -> None:
    spec = _spec(
        "anthropic",
        "claude-3-5-haiku-20241022",
        input_usd_per_1k="0.001",
        output_usd_per_1k="0.005",
    )
    table = price_table(spec)
    assert table[PriceClass.INPUT] == Decimal(1)
    assert table[PriceClass.OUTPUT] == Decimal(5)
    assert table.prices[PriceClass.INPUT].source == CONFIG_SOURCE
    # the cache classes still come from the library
    assert table[PriceClass.CACHE_READ] == Decimal("0.08")
    assert table.prices[PriceClass.CACHE_READ].source == library_label()
    assert table.source == f"config+{library_label()}"
    usage = UsageClasses(input_tokens=3000, output_tokens=1000, cache_read_tokens=1000)
    cost, _ = price_call(spec, usage)
    assert cost == Decimal("0.00708")  # 2000×1 + 1000×0.08 + 1000×5, per 1M


def test_a_self_hosted_model_is_priced_by_the_config_alone() -> None:
    spec = _spec(
        "openai-compatible",
        "llama-3-70b",
        prices={
            "input_usd_per_1m": "0.2",
            "cache_read_usd_per_1m": "0.05",
            "output_usd_per_1m": "0.4",
            "batch_factor": "0.25",
        },
    )
    assert spec.input_usd_per_1k == Decimal("0.0002")
    assert spec.output_usd_per_1k == Decimal("0.0004")
    usage = UsageClasses(
        input_tokens=2_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000
    )
    assert price_call(spec, usage) == (Decimal("0.65"), CONFIG_SOURCE)
    assert price_call(spec, usage, batch=True) == (Decimal("0.1625"), CONFIG_SOURCE)


def test_library_prices_fill_the_per_1k_fields() -> None:
    spec = _spec("openai", "gpt-4o-2024-08-06")
    assert spec.input_usd_per_1k == Decimal("0.0025")
    assert spec.output_usd_per_1k == Decimal("0.01")


def test_a_model_nobody_prices_is_a_config_error_naming_its_key_and_line() -> None:
    models = catalog("cheap")
    models["mystery"] = {"provider": "openai-compatible", "model_id": "my-own-model"}
    text = routing_config(models=models, tasks={"qa": static_route("cheap")})
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="routing.yaml")
    error = info.value
    assert error.key == "models.mystery"
    lines = text.splitlines()
    assert error.line is not None
    assert lines[error.line - 1].strip() == "mystery:"
    assert "no input price" in str(error)
    assert "prices.input_usd_per_1m" in str(error)


def test_an_unknown_model_id_of_a_known_provider_needs_prices_too() -> None:
    with pytest.raises(ValueError, match="genai-prices does not price it"):
        _spec("openai", "gpt-nonexistent-9")
    spec = _spec("openai", "gpt-nonexistent-9", input_usd_per_1k="0.001", output_usd_per_1k="0.002")
    assert price_table(spec).source == CONFIG_SOURCE


def test_both_forms_of_the_same_price_are_refused() -> None:
    with pytest.raises(ValueError, match=r"input_usd_per_1k or prices\.input_usd_per_1m"):
        _spec("openai", "gpt-4o", input_usd_per_1k="0.001", prices={"input_usd_per_1m": "1"})


def test_usage_classes_refuse_parts_larger_than_their_whole() -> None:
    with pytest.raises(ValueError, match="exceed input_tokens"):
        UsageClasses(input_tokens=10, output_tokens=0, cache_read_tokens=11)
    with pytest.raises(ValueError, match="reasoning_tokens exceed"):
        UsageClasses(input_tokens=10, output_tokens=5, reasoning_tokens=6)


def test_the_snapshot_has_a_data_date() -> None:
    data_date = library_data_date()
    assert data_date is not None
    assert data_date.year >= 2025

"""The price of a call from its token classes.

Prices come per class, in USD per 1M tokens: input (uncached), cache read, cache write
(5-minute TTL), cache write (1-hour TTL) and output. Each class is the config's override
(`prices:` of the catalog model, or the older `input_usd_per_1k` / `output_usd_per_1k`)
when there is one, else genai-prices' price for the model's provider and `model_id` (its
bundled snapshot: no network). A cache class the library does not price falls back as the
library itself does: cache reads and writes at the input price, 1-hour writes at the
5-minute write price.

A call's table is resolved once per model, kind (standard or batch), tier and UTC minute
and kept (`price_table`): the library's prices change only at whole minutes (a new price
from a day on, or a time-of-day window; tests/router/test_pricing.py checks its snapshot),
and the tier is the one the call's input tokens fall in, so a long-context call is never
priced at the base tier.

Token counts follow the providers' and the library's convention: `input_tokens` counts all
input, cache reads and writes included; `output_tokens` counts all output, reasoning
included (reasoning tokens are billed as output). Costs are exact Decimals quantised to the
wire precision (schemas/money.py); budgets round them up to micro-dollars
(router/budget.py `to_micro_usd`).
"""

from __future__ import annotations

import bisect
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from llmrouter.core.errors import ConfigError
from llmrouter.schemas.money import quantize_usd

if TYPE_CHECKING:
    from llmrouter.router.config_catalog import ModelSpec
    from llmrouter.router.config_prices import PriceOverrides

__all__ = [
    "BATCH_PRICE_MARK",
    "CONFIG_SOURCE",
    "ClassPrice",
    "PriceClass",
    "PriceTable",
    "UsageClasses",
    "library_data_date",
    "library_label",
    "library_prices",
    "price_call",
    "price_table",
]

PER_MTOK = Decimal(1_000_000)
_THOUSAND = Decimal(1000)
_DEFAULT_BATCH_FACTOR = Decimal("0.5")
CONFIG_SOURCE = "config"
#: the end of the `price_source` of a call billed at the batch price (a provider batch job)
BATCH_PRICE_MARK = "; batch"
_BATCH_CONTEXT = {"processing": "batch"}


class PriceClass(StrEnum):
    INPUT = "input"
    CACHE_READ = "cache_read"
    CACHE_WRITE = "cache_write"  # 5-minute TTL
    CACHE_WRITE_1H = "cache_write_1h"
    OUTPUT = "output"


_PRICE_CLASSES = tuple(PriceClass)  # iterating the enum itself is slow
#: genai-prices' price key of each class
_LIBRARY_KEYS = {
    PriceClass.INPUT: "input_mtok",
    PriceClass.CACHE_READ: "cache_read_mtok",
    PriceClass.CACHE_WRITE: "cache_write_mtok",
    PriceClass.CACHE_WRITE_1H: "cache_write_1h_mtok",
    PriceClass.OUTPUT: "output_mtok",
}
#: a class with no price of its own is billed at this one's
_FALLBACK = {
    PriceClass.CACHE_READ: PriceClass.INPUT,
    PriceClass.CACHE_WRITE: PriceClass.INPUT,
    PriceClass.CACHE_WRITE_1H: PriceClass.CACHE_WRITE,
}
#: genai-prices' provider id for each catalog provider (openai-compatible: self-hosted or a
#: third party the config must price)
_LIBRARY_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure-openai": "azure",
    # Gemini and Anthropic on Vertex AI are priced as Google's; Bedrock's models as AWS's
    "gemini": "google",
    "vertex-gemini": "google",
    "vertex-anthropic": "google",
    "bedrock": "aws",
    "bedrock-anthropic": "aws",
}


@dataclass(frozen=True)
class UsageClasses:
    """The token classes of one call. The cache and reasoning counts are parts of
    `input_tokens` and `output_tokens`, not additions to them."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    #: every cache write, the 1-hour ones included
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        if (
            min(
                self.input_tokens,
                self.output_tokens,
                self.cache_read_tokens,
                self.cache_write_tokens,
                self.cache_write_1h_tokens,
                self.reasoning_tokens,
            )
            < 0
        ):
            negative = {name: value for name, value in vars(self).items() if value < 0}
            raise ValueError(f"token counts must be >= 0, got {negative}")
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError("cache_read_tokens + cache_write_tokens exceed input_tokens")
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError("cache_write_1h_tokens exceed cache_write_tokens")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens exceed output_tokens")


@dataclass(frozen=True)
class ClassPrice:
    usd_per_1m: Decimal
    #: "config", or genai-prices' label (`library_label()`)
    source: str


@dataclass(frozen=True)
class PriceTable:
    """One model's price of every class, for one call's size and kind."""

    prices: Mapping[PriceClass, ClassPrice]

    def __getitem__(self, price_class: PriceClass) -> Decimal:
        return self.prices[price_class].usd_per_1m

    @functools.cached_property
    def source(self) -> str:
        """ "config", genai-prices' label, or both joined by "+" (config first)."""
        sources = sorted({p.source for p in self.prices.values()}, key=lambda s: s != "config")
        return "+".join(sources)


@functools.cache
def library_label() -> str:
    """genai-prices and its version, the `price_source` of its prices (read once: reading
    a distribution's metadata takes a quarter of a millisecond, twice per call)."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


@functools.cache
def library_data_date() -> date | None:
    """The newest price change the bundled genai-prices snapshot knows of."""
    from genai_prices import data_snapshot, types

    newest: date | None = None
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            constraints = (
                [c.constraint for c in model.prices] if isinstance(model.prices, list) else []
            )
            constraints += [v.constraint for v in model.price_variants or []]
            for constraint in constraints:
                if isinstance(constraint, types.StartDateConstraint) and (
                    newest is None or constraint.start_date > newest
                ):
                    newest = constraint.start_date
    return newest


@functools.cache
def _library_model(provider: str, model_id: str) -> tuple[Any, bool] | None:
    """genai-prices' model for a catalog provider and model id, and whether the provider
    lists it as its own (it applies batch prices only then); None if it has none."""
    from genai_prices import data_snapshot

    provider_id = _LIBRARY_PROVIDERS.get(provider)
    if provider_id is None:
        return None
    try:
        found, model = data_snapshot.get_snapshot().find_provider_model(
            model_id, None, provider_id, None
        )
    except LookupError:
        return None
    return model, any(model is own for own in found.models)


@functools.cache
def _tier_starts(provider: str, model_id: str) -> tuple[int, ...]:
    """Every token count at which one of genai-prices' tiers of this model starts, at any
    time and in any variant (batch included), ascending: two calls whose input tokens pass
    the same starts are priced at the same tier of every class."""
    from genai_prices import types

    entry = _library_model(provider, model_id)
    if entry is None:
        return ()
    model = entry[0]
    prices = [c.prices for c in model.prices] if isinstance(model.prices, list) else [model.prices]
    prices += [variant.prices for variant in model.price_variants or []]
    starts = {
        tier.start
        for price in prices
        for value in vars(price).values()
        if isinstance(value, types.TieredPrices)
        for tier in value.tiers
    }
    return tuple(sorted(starts))


def library_prices(
    provider: str,
    model_id: str,
    *,
    input_tokens: int = 0,
    batch: bool = False,
    at: datetime | None = None,
) -> dict[PriceClass, Decimal] | None:
    """genai-prices' own price of each class it prices for this model (USD per 1M tokens,
    at the tier `input_tokens` falls in), or None when it does not know the model. With
    `batch`, its batch prices, or None for a model it has no batch prices for."""
    from genai_prices import types

    entry = _library_model(provider, model_id)
    if entry is None:
        return None
    model, own = entry
    if batch and not own:
        return None
    when = at or datetime.now(tz=UTC)
    standard = model.get_prices(when)
    chosen = model.get_prices(when, _BATCH_CONTEXT) if batch else standard
    if batch and chosen == standard:
        return None
    found: dict[PriceClass, Decimal] = {}
    fields = vars(chosen)  # a class it has no price for is absent (getattr: a slow None)
    for price_class, key in _LIBRARY_KEYS.items():
        value = fields.get(key)
        if isinstance(value, types.TieredPrices):
            tiered = value.base
            for tier in reversed(value.tiers):
                if input_tokens > tier.start:
                    tiered = tier.price
                    break
            found[price_class] = tiered
        elif value is not None:
            found[price_class] = value
    return found


#: each catalog model's configured prices, by the identity of its (never changed) spec: a
#: reload's new specs get entries of their own
_CONFIGURED: dict[int, tuple[ModelSpec, dict[PriceClass, Decimal]]] = {}


def _config_prices(spec: ModelSpec) -> dict[PriceClass, Decimal]:
    known = _CONFIGURED.get(id(spec))
    if known is not None and known[0] is spec:
        return known[1]
    if len(_CONFIGURED) > 1024:  # specs of reloads long gone
        _CONFIGURED.clear()
    configured = _read_config_prices(spec)
    _CONFIGURED[id(spec)] = (spec, configured)
    return configured


def _read_config_prices(spec: ModelSpec) -> dict[PriceClass, Decimal]:
    overrides: PriceOverrides = spec.prices
    configured = {
        PriceClass.INPUT: overrides.input_usd_per_1m,
        PriceClass.CACHE_READ: overrides.cache_read_usd_per_1m,
        PriceClass.CACHE_WRITE: overrides.cache_write_usd_per_1m,
        PriceClass.CACHE_WRITE_1H: overrides.cache_write_1h_usd_per_1m,
        PriceClass.OUTPUT: overrides.output_usd_per_1m,
    }
    # the older per-1K keys are the input and output overrides
    fields_set = spec.model_fields_set
    if "input_usd_per_1k" in fields_set:
        configured[PriceClass.INPUT] = spec.input_usd_per_1k * _THOUSAND
    if "output_usd_per_1k" in fields_set:
        configured[PriceClass.OUTPUT] = spec.output_usd_per_1k * _THOUSAND
    return {k: v for k, v in configured.items() if v is not None}


#: the tables resolved, by (spec identity, batch, tier): the spec (kept, so its identity is
#: never another's), the UTC minute the table was resolved for, and the table. A config
#: reload's new specs get tables of their own.
_TABLES: dict[tuple[int, bool, int], tuple[ModelSpec, int, PriceTable]] = {}
_MAX_TABLES = 4096


def price_table(
    spec: ModelSpec, *, input_tokens: int = 0, batch: bool = False, at: datetime | None = None
) -> PriceTable:
    """Every class's price and source for a call of this model: resolved once per model,
    kind, tier and UTC minute (at the minute's start), or at `at` when it is given.

    Raises ConfigError when neither the config nor genai-prices prices input or output.
    """
    if at is not None:
        return _resolve_table(spec, input_tokens=input_tokens, batch=batch, at=at)
    minute = int(time.time() // 60)
    tier = bisect.bisect_left(_tier_starts(str(spec.provider), spec.model_id), input_tokens)
    key = (id(spec), batch, tier)
    known = _TABLES.get(key)
    if known is not None and known[0] is spec and known[1] == minute:
        return known[2]
    table = _resolve_table(
        spec,
        input_tokens=input_tokens,
        batch=batch,
        at=datetime.fromtimestamp(minute * 60, tz=UTC),
    )
    if len(_TABLES) >= _MAX_TABLES:  # specs of reloads long gone
        _TABLES.clear()
    _TABLES[key] = (spec, minute, table)
    return table


def _resolve_table(
    spec: ModelSpec, *, input_tokens: int, batch: bool, at: datetime | None
) -> PriceTable:
    provider = str(spec.provider)
    configured = _config_prices(spec)
    library = library_prices(provider, spec.model_id, input_tokens=input_tokens, at=at) or {}
    label = library_label()
    table: dict[PriceClass, ClassPrice] = {}
    for price_class in _PRICE_CLASSES:
        if price_class in configured:
            table[price_class] = ClassPrice(configured[price_class], CONFIG_SOURCE)
        elif price_class in library:
            table[price_class] = ClassPrice(library[price_class], label)
        elif price_class in _FALLBACK:
            table[price_class] = table[_FALLBACK[price_class]]
        else:
            raise ConfigError(
                f"no {price_class} price for {provider} model {spec.model_id!r}: genai-prices"
                f" does not price it; set prices.{price_class}_usd_per_1m"
            )
    if batch:
        table = _batch(spec, table, input_tokens=input_tokens, at=at, label=label)
    return PriceTable(table)


def _batch(
    spec: ModelSpec,
    table: dict[PriceClass, ClassPrice],
    *,
    input_tokens: int,
    at: datetime | None,
    label: str,
) -> dict[PriceClass, ClassPrice]:
    """Batch prices: the configured factor of every price; else the library's batch price
    for a class it prices, and half the standard price for the rest."""
    factor = spec.prices.batch_factor
    library = (
        None
        if factor is not None
        else library_prices(
            str(spec.provider), spec.model_id, input_tokens=input_tokens, batch=True, at=at
        )
    )
    batch_factor = factor if factor is not None else _DEFAULT_BATCH_FACTOR
    out: dict[PriceClass, ClassPrice] = {}
    for price_class, price in table.items():
        if library is not None and price.source == label:
            key = price_class
            while key not in library and key in _FALLBACK:
                key = _FALLBACK[key]
            if key in library:
                out[price_class] = ClassPrice(library[key], label)
                continue
        out[price_class] = ClassPrice(price.usd_per_1m * batch_factor, price.source)
    return out


def price_call(
    spec: ModelSpec, usage: UsageClasses, *, batch: bool = False, at: datetime | None = None
) -> tuple[Decimal, str]:
    """The exact cost of one call (USD, wire precision) and where its prices came from."""
    table = price_table(spec, input_tokens=usage.input_tokens, batch=batch, at=at)
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    raw = uncached * table[PriceClass.INPUT] + usage.output_tokens * table[PriceClass.OUTPUT]
    # the cache classes only when there are some (most calls have none): exact either way
    if usage.cache_read_tokens:
        raw += usage.cache_read_tokens * table[PriceClass.CACHE_READ]
    if usage.cache_write_tokens:
        write_5m = usage.cache_write_tokens - usage.cache_write_1h_tokens
        raw += write_5m * table[PriceClass.CACHE_WRITE]
        raw += usage.cache_write_1h_tokens * table[PriceClass.CACHE_WRITE_1H]
    return quantize_usd(raw / PER_MTOK), table.source

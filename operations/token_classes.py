"""Token classes by task and model: prompt-cache hit rate, what prompt caching saved, and
the reasoning share of output, from cost events (`llm.costs`) or a result's attempts.

Cache reads and writes are parts of `input_tokens`; reasoning is part of `output_tokens`
(router/pricing.py). Prompt caching's saving on one call is what its cache-read and
cache-write tokens would have cost at the model's plain input price, minus what they cost
at the cache prices: `router.pricing.price_table` of the model's spec in the config, at the
call's size. Writes cost more than plain input, so a call that only writes saves a negative
amount; the reads that follow pay it back. The cost events do not say which writes had the
1-hour TTL, so every write is priced at the 5-minute write price. Each call's saving is
exact and quantised to the wire precision, like its cost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from llmrouter.router.config import RouterConfig
from llmrouter.router.pricing import PER_MTOK, PriceClass, price_table
from llmrouter.schemas import CostEvent
from llmrouter.schemas.money import quantize_usd

__all__ = ["TokenClasses", "caching_saved_usd", "token_classes"]


@dataclass
class TokenClasses:
    """The provider calls of one task and model, summed class by class."""

    task: str
    model: str
    calls: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    #: None when the model is not in the config, whose prices the saving needs
    caching_saved_usd: Decimal | None = Decimal(0)

    @property
    def cache_hit_rate(self) -> float:
        """The share of input tokens read from the provider's prompt cache."""
        return self.cache_read_tokens / self.input_tokens if self.input_tokens else 0.0

    @property
    def reasoning_share(self) -> float:
        """The share of output tokens the model spent reasoning."""
        return self.reasoning_tokens / self.output_tokens if self.output_tokens else 0.0

    def add(
        self,
        *,
        input_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        output_tokens: int,
        reasoning_tokens: int,
        cost_usd: Decimal,
        saved_usd: Decimal | None,
    ) -> None:
        self.calls += 1
        self.input_tokens += input_tokens
        self.cache_read_tokens += cache_read_tokens
        self.cache_write_tokens += cache_write_tokens
        self.output_tokens += output_tokens
        self.reasoning_tokens += reasoning_tokens
        self.cost_usd += cost_usd
        if saved_usd is None or self.caching_saved_usd is None:
            self.caching_saved_usd = None
        else:
            self.caching_saved_usd += saved_usd


def caching_saved_usd(
    config: RouterConfig,
    model: str,
    *,
    input_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
) -> Decimal | None:
    """What one call's cached tokens would have cost at the model's plain input price,
    minus what they cost; None for a model the config does not have."""
    spec = config.models.get(model)
    if spec is None:
        return None
    if not cache_read_tokens and not cache_write_tokens:
        return Decimal(0)
    table = price_table(spec, input_tokens=input_tokens)
    plain = table[PriceClass.INPUT]
    raw = (
        cache_read_tokens * (plain - table[PriceClass.CACHE_READ])
        + cache_write_tokens * (plain - table[PriceClass.CACHE_WRITE])
    ) / PER_MTOK
    return quantize_usd(raw)


def token_classes(costs: Iterable[CostEvent], config: RouterConfig) -> list[TokenClasses]:
    """Per task and model called, the token classes of its provider calls (response-cache
    hits, which call no provider, left out), ordered by task then spend."""
    rows: dict[tuple[str, str], TokenClasses] = {}
    for event in costs:
        if event.cached:
            continue
        row = rows.setdefault((event.task, event.model), TokenClasses(event.task, event.model))
        row.add(
            input_tokens=event.input_tokens,
            cache_read_tokens=event.cache_read_tokens,
            cache_write_tokens=event.cache_write_tokens,
            output_tokens=event.output_tokens,
            reasoning_tokens=event.reasoning_tokens,
            cost_usd=event.cost_usd,
            saved_usd=caching_saved_usd(
                config,
                event.model,
                input_tokens=event.input_tokens,
                cache_read_tokens=event.cache_read_tokens,
                cache_write_tokens=event.cache_write_tokens,
            ),
        )
    return sorted(rows.values(), key=lambda r: (r.task, -r.cost_usd, r.model))

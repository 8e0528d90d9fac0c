"""A catalog model's `prices:` block: per-class price overrides, in USD per 1M tokens.

Every class is optional. A class left out takes genai-prices' price for the model's
provider and `model_id` (router/pricing.py); a self-hosted or negotiated model sets the
classes it needs. docs/configuration.md "Prices" describes the keys and the rules.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from llmrouter.router.config_fields import PositiveUSD, StrictModel

__all__ = ["PriceOverrides"]


class PriceOverrides(StrictModel):
    """Prices typed into the config, each overriding the library's price of its class."""

    input_usd_per_1m: PositiveUSD | None = None
    #: prompt-cache reads (OpenAI cached input, Anthropic cache_read_input_tokens)
    cache_read_usd_per_1m: PositiveUSD | None = None
    #: prompt-cache writes with the 5-minute TTL (every write when no 1-hour price is known)
    cache_write_usd_per_1m: PositiveUSD | None = None
    #: prompt-cache writes with the 1-hour TTL
    cache_write_1h_usd_per_1m: PositiveUSD | None = None
    output_usd_per_1m: PositiveUSD | None = None
    #: batch calls cost this fraction of every standard price (default: the library's batch
    #: prices where it has them, else 0.5)
    batch_factor: Decimal | None = Field(default=None, gt=0, le=1)

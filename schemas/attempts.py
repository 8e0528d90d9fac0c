"""One provider call, as recorded on a result and as a cost event."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from llmrouter.schemas.base import WireModel
from llmrouter.schemas.enums import AttemptOutcome
from llmrouter.schemas.money import USD

__all__ = ["Attempt"]


class Attempt(WireModel):
    model: str = Field(description="Catalog name of the model called.")
    provider: str = ""
    model_version: str = Field(default="", description="The pinned provider model id.")
    purpose: Literal["answer", "classify"] = "answer"
    outcome: AttemptOutcome
    latency_ms: float = Field(ge=0.0)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(
        default=0, ge=0, description="Part of input_tokens read from the provider's prompt cache."
    )
    cache_write_tokens: int = Field(
        default=0, ge=0, description="Part of input_tokens written to the provider's prompt cache."
    )
    reasoning_tokens: int = Field(
        default=0, ge=0, description="Part of output_tokens the model spent reasoning."
    )
    price_source: str | None = Field(
        default=None, description="Where the prices of cost_usd came from (config, genai-prices)."
    )
    cost_usd: USD = Decimal(0)
    cached: bool = False
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    error: str | None = Field(default=None, description="Short reason when the call failed.")

"""The config's `models` section: the catalog of models routes may name, each with its
provider, pinned model id, prices, limits and endpoint."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from llmrouter.router.config_fields import PositiveUSD, StrictModel, expand_env

__all__ = ["ModelSpec", "Provider"]


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"


class ModelSpec(StrictModel):
    """One entry of the model catalog."""

    provider: Provider
    #: the pinned provider model id sent to the API, e.g. gpt-4-turbo-2024-04-09
    model_id: str = Field(min_length=1)
    input_usd_per_1k: PositiveUSD
    output_usd_per_1k: PositiveUSD
    context_window_tokens: int = Field(default=8192, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_concurrency: int = Field(default=64, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    tier: Literal["frontier", "mid", "cheap", "self-hosted"] | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        value = expand_env(value) if value is not None else None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

"""The config's `models` section: the catalog of models routes may name, each with its
provider, pinned model id, prices, limits and endpoint."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from llmrouter.router.config_batch import BATCH_PROVIDERS, PROVIDER_LIMITS, BatchApiSpec
from llmrouter.router.config_fields import PositiveUSD, StrictModel, expand_env
from llmrouter.router.config_prices import PriceOverrides

__all__ = ["AWS_PROVIDERS", "VERTEX_PROVIDERS", "ModelSpec", "Provider"]

#: the default of the per-1K prices, replaced by `_priced` before anyone reads them
_PRICED_LATER = Decimal(-1)


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"
    AZURE_OPENAI = "azure-openai"
    #: Gemini through google-genai: the Gemini API (a key), or Vertex AI
    GEMINI = "gemini"
    VERTEX_GEMINI = "vertex-gemini"
    #: Anthropic models on Bedrock and on Vertex AI, through the anthropic SDK
    BEDROCK_ANTHROPIC = "bedrock-anthropic"
    VERTEX_ANTHROPIC = "vertex-anthropic"
    #: any Bedrock model through the Converse API (aiobotocore)
    BEDROCK = "bedrock"


#: the providers on a cloud platform: each needs a region (Vertex AI a project too)
AWS_PROVIDERS = frozenset({Provider.BEDROCK, Provider.BEDROCK_ANTHROPIC})
VERTEX_PROVIDERS = frozenset({Provider.VERTEX_GEMINI, Provider.VERTEX_ANTHROPIC})


class ModelSpec(StrictModel):
    """One entry of the model catalog."""

    provider: Provider
    #: the pinned provider model id sent to the API, e.g. gpt-4-turbo-2024-04-09
    model_id: str = Field(min_length=1)
    #: the input and output price overrides per 1K tokens (default: from `prices`, else
    #: genai-prices; always set once validated)
    input_usd_per_1k: PositiveUSD = _PRICED_LATER
    output_usd_per_1k: PositiveUSD = _PRICED_LATER
    #: per-class overrides per 1M tokens (router/pricing.py, docs/configuration.md "Prices")
    prices: PriceOverrides = Field(default_factory=PriceOverrides)
    context_window_tokens: int = Field(default=8192, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    #: a guard against runaway fan-out; rpm and tpm are the provider quota proper
    max_concurrency: int = Field(default=1024, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    #: the longest a call waits for a slot of these limits before the route moves on
    #: (None: as long as the call's own timeout allows)
    queue_s: float | None = Field(default=None, ge=0)
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    tier: Literal["frontier", "mid", "cheap", "self-hosted"] | None = None
    #: azure-openai: the deployment called (default: model_id), the API version and the
    #: resource endpoint (else $AZURE_OPENAI_ENDPOINT)
    deployment: str | None = Field(default=None, min_length=1)
    api_version: str | None = Field(default=None, min_length=1)
    endpoint: str | None = None
    #: bedrock, bedrock-anthropic: the AWS region (e.g. us-east-1); vertex-gemini,
    #: vertex-anthropic: the Google Cloud location (e.g. us-east5) and project
    region: str | None = Field(default=None, min_length=1)
    project: str | None = Field(default=None, min_length=1)
    #: vertex-gemini, vertex-anthropic: a mounted Google credentials file (service account
    #: or authorized user); default: Application Default Credentials
    credentials_file: Path | None = None
    #: `priority: batch` requests go through the provider's batch API (config_batch.py)
    batch_api: BatchApiSpec | None = None

    @model_validator(mode="after")
    def _batch_api(self) -> ModelSpec:
        if self.batch_api is None:
            return self
        if self.provider.value not in BATCH_PROVIDERS:
            raise ValueError(f"batch_api is for providers {', '.join(sorted(BATCH_PROVIDERS))}")
        most_requests, most_bytes = PROVIDER_LIMITS[self.provider.value]
        if self.batch_api.max_requests > most_requests or self.batch_api.max_bytes > most_bytes:
            raise ValueError(
                f"batch_api: a {self.provider.value} job holds at most {most_requests}"
                f" requests and {most_bytes} bytes"
            )
        return self

    @model_validator(mode="after")
    def _azure_fields(self) -> ModelSpec:
        azure = ("deployment", "api_version", "endpoint")
        if self.provider is not Provider.AZURE_OPENAI:
            given = [name for name in azure if getattr(self, name) is not None]
            if given:
                raise ValueError(f"{given[0]} is only for provider azure-openai")
        elif self.api_version is None:
            raise ValueError("provider azure-openai needs api_version (e.g. 2024-10-21)")
        return self

    @model_validator(mode="after")
    def _cloud_fields(self) -> ModelSpec:
        """Region, project and credentials file only where the provider takes them, and
        every one it needs."""
        provider = self.provider
        allowed = {
            "region": AWS_PROVIDERS | VERTEX_PROVIDERS,
            "project": VERTEX_PROVIDERS,
            "credentials_file": VERTEX_PROVIDERS,
        }
        for name, providers in allowed.items():
            if getattr(self, name) is not None and provider not in providers:
                names = ", ".join(sorted(p.value for p in providers))
                raise ValueError(f"{name} is only for providers {names}")
        needed = ["region"] if provider in AWS_PROVIDERS | VERTEX_PROVIDERS else []
        needed += ["project"] if provider in VERTEX_PROVIDERS else []
        for name in needed:
            if getattr(self, name) is None:
                raise ValueError(f"provider {provider.value} needs {name}")
        return self

    @model_validator(mode="after")
    def _priced(self) -> ModelSpec:
        """Every model has an input and an output price, from the config or genai-prices."""
        from llmrouter.router.pricing import PriceClass, price_table

        per_1m = self.prices
        for name, key in (("input", "input_usd_per_1k"), ("output", "output_usd_per_1k")):
            other = getattr(per_1m, f"{name}_usd_per_1m")
            if key in self.model_fields_set and other is not None:
                raise ValueError(f"set {key} or prices.{name}_usd_per_1m, not both")
        table = price_table(self)
        thousand = Decimal(1000)
        # set once, at validation: the model stays frozen for everyone else
        for key, price_class in (
            ("input_usd_per_1k", PriceClass.INPUT),
            ("output_usd_per_1k", PriceClass.OUTPUT),
        ):
            if key not in self.model_fields_set:
                object.__setattr__(self, key, table[price_class] / thousand)
        return self

    @field_validator("base_url", "endpoint")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = expand_env(value) if value is not None else None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{info.field_name} must start with http:// or https://")
        return value

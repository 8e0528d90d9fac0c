"""The config's `defaults` section: timeouts, retries, circuit breaking and the cache,
applied unless a model or task overrides them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from llmrouter.router.config_fields import StrictModel, expand_env

__all__ = ["CacheSettings", "CooldownSettings", "Defaults", "RetrySettings", "StateSettings"]


class RetrySettings(StrictModel):
    """Our one retry layer (the SDKs' own retries are off). Counts are retries of the SAME
    model after the first call; then the route moves on to its fallbacks."""

    rate_limited: int = Field(default=2, ge=0, le=10)
    timeout: int = Field(default=1, ge=0, le=10)
    server_error: int = Field(default=2, ge=0, le=10)
    malformed: int = Field(default=1, ge=0, le=10)
    base_delay_s: float = Field(default=0.25, ge=0)
    max_delay_s: float = Field(default=8.0, ge=0)
    #: a Retry-After longer than this sends the request to a fallback instead of waiting
    max_retry_after_s: float = Field(default=10.0, ge=0)


class CooldownSettings(StrictModel):
    """Per-model circuit breaker: after `failures` consecutive retryable failures the model
    is skipped for `cooldown_s`, then one probe call decides whether it is healthy again."""

    failures: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=5.0, gt=0)
    #: when every model of a route is cooling down, wait up to this long rather than fail
    max_wait_s: float = Field(default=2.0, ge=0)


class CacheSettings(StrictModel):
    enabled: bool = True
    ttl_s: int = Field(default=3600, ge=1)
    #: `memory` (per process) or `redis` (shared by replicas; needs `redis_url`)
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str | None = None
    #: answers sampled with temperature > 0 are not cached unless this is true
    cache_sampled: bool = False

    @field_validator("redis_url")
    @classmethod
    def _expand(cls, value: str | None) -> str | None:
        return expand_env(value) if value is not None else None

    @model_validator(mode="after")
    def _redis_needs_url(self) -> CacheSettings:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend 'redis' needs redis_url")
        return self


class StateSettings(StrictModel):
    """The store shared by every replica (rate limits, budgets, cooldowns, idempotency).
    Unset (and no $LLMROUTER_REDIS_URL): each process keeps its own."""

    redis_url: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _expand(cls, value: str | None) -> str | None:
        return (expand_env(value) or None) if value is not None else None


class Defaults(StrictModel):
    timeout_s: float = Field(default=30.0, gt=0)
    max_output_tokens: int = Field(default=1024, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    #: hard bound on upstream calls (retries, fallbacks, escalations, classifier) per request
    max_calls_per_request: int = Field(default=6, ge=1, le=50)
    #: inputs longer than this are rejected before any call (dead-lettered by workers)
    max_input_chars: int = Field(default=200_000, ge=1)
    #: the longest a realtime request's call waits for a model's rate-limit slot when the
    #: model sets no `queue_s` (then the route moves on); batch requests wait unbounded.
    #: null: realtime calls wait unbounded too
    realtime_queue_s: float | None = Field(default=2.0, ge=0)
    retry: RetrySettings = RetrySettings()
    cooldown: CooldownSettings = CooldownSettings()
    cache: CacheSettings = CacheSettings()
    state: StateSettings = StateSettings()
    #: a request_id that already has a result within this window is not routed again
    dedupe_window_s: int = Field(default=86_400, ge=1)
    #: the largest result kept for duplicates; a larger one is kept as a marker only, and a
    #: duplicate of it gets a failed result saying it was answered
    dedupe_max_result_bytes: int = Field(default=65_536, ge=0)
    #: what a duplicate request_id publishes: its stored result marked duplicate, or nothing
    duplicates: Literal["republish", "drop"] = "republish"
    #: which tasks' requests pass the classifier stage: those whose routes need a
    #: complexity (`needed`; the router reads the others straight from llm.requests), or
    #: every task's (`always`). Read at start-up (router/paths.py).
    classifier_stage: Literal["needed", "always"] = "needed"

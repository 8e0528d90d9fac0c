"""How each simulated model behaves: quality, latency distribution, context window, fault rates.

A profile is looked up by the provider model id of a request: an exact id from the config,
else the longest configured id that the requested one starts with (so `claude-3-haiku`
covers `claude-3-haiku-20240307`), else a default chosen by cues in the name.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

PROFILES_FILE = Path(__file__).with_name("models.yaml")


def _rate() -> Any:
    return Field(default=0.0, ge=0.0, le=1.0)


class ModelProfile(BaseModel):
    """The behaviour of one simulated model. Rates are probabilities per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quality: float = Field(default=0.84, ge=0.0, le=1.0)
    latency_median_ms: float = Field(default=1000.0, ge=0.0)
    latency_p95_ms: float = Field(default=1800.0, ge=0.0)
    #: when set, the lognormal's spread comes from this 99th percentile instead of the 95th
    latency_p99_ms: float | None = Field(default=None, ge=0.0)
    context_window_tokens: int = Field(default=128_000, ge=1)
    rate_429: float = _rate()
    rate_500: float = _rate()
    rate_529: float = _rate()
    rate_hang: float = _rate()
    rate_malformed: float = _rate()
    retry_after_s: float = Field(default=1.0, ge=0.0)
    #: a reasoning model: its replies spend hidden reasoning tokens, reported apart
    #: (OpenAI `completion_tokens_details.reasoning_tokens`) and billed as output
    reasoning: bool = False
    #: quality over time: after this many answered calls the model answers at
    #: `quality_after_drop` (a model that silently got worse); None never drops
    quality_drop_after_calls: int | None = Field(default=None, ge=0)
    quality_after_drop: float = Field(default=0.3, ge=0.0, le=1.0)

    def quality_at(self, answered_calls: int) -> float:
        """The quality of the next answer after `answered_calls` answered ones."""
        drop = self.quality_drop_after_calls
        return (
            self.quality_after_drop if drop is not None and answered_calls >= drop else self.quality
        )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.latency_p95_ms < self.latency_median_ms:
            raise ValueError("latency_p95_ms must be >= latency_median_ms")
        if self.latency_p99_ms is not None and self.latency_p99_ms < self.latency_median_ms:
            raise ValueError("latency_p99_ms must be >= latency_median_ms")
        if self.fault_rate_total > 1.0 + 1e-9:
            raise ValueError("the fault rates of one model must sum to at most 1")
        return self

    @property
    def fault_rate_total(self) -> float:
        return self.rate_429 + self.rate_500 + self.rate_529 + self.rate_hang + self.rate_malformed

    @property
    def lognormal_params(self) -> tuple[float, float]:
        """(mu, sigma) of the lognormal latency with this median and 95th (or 99th)
        percentile."""
        median = max(self.latency_median_ms, 1e-3)
        if self.latency_p99_ms is not None:
            sigma = math.log(max(self.latency_p99_ms, median) / median) / 2.3263478740408408
        else:
            sigma = math.log(max(self.latency_p95_ms, median) / median) / 1.6448536269514722
        return math.log(median), sigma


FRONTIER = ModelProfile(
    quality=0.92, latency_median_ms=2000, latency_p95_ms=3500, context_window_tokens=128_000
)
MID = ModelProfile(
    quality=0.84, latency_median_ms=1000, latency_p95_ms=1900, context_window_tokens=32_000
)
CHEAP = ModelProfile(
    quality=0.74, latency_median_ms=500, latency_p95_ms=950, context_window_tokens=16_000
)

_NAME_CUES: tuple[tuple[tuple[str, ...], ModelProfile], ...] = (
    (("opus", "gpt-4", "gpt4", "ultra", "o1", "o3"), FRONTIER),
    (("sonnet", "gpt-3.5", "gpt-35", "gemini", "mistral", "mixtral"), MID),
    (("haiku", "llama", "small", "mini", "bert", "tiny"), CHEAP),
)


#: ids of reasoning models: OpenAI's (o1, o3-mini, o4-mini, gpt-5...) and Gemini's thinking
#: ones (2.5 and later think by default)
_REASONING_IDS = re.compile(r"^(o\d|gpt-5|gemini-(2\.5|[3-9]))")


def default_profile_for(model_id: str) -> ModelProfile:
    """The profile an unconfigured model id gets, by cues in its name (mid-tier if none);
    a reasoning model's id marks it as one."""
    name = model_id.lower()
    chosen = next((p for cues, p in _NAME_CUES if any(cue in name for cue in cues)), MID)
    if _REASONING_IDS.match(name):
        return chosen.model_copy(update={"reasoning": True})
    return chosen


def load_profiles(path: Path) -> dict[str, ModelProfile]:
    """Read a `{model_id: profile}` mapping (or a file with a top-level `models:` key)."""
    with path.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of model id to profile")
    models = raw.get("models", raw)
    if not isinstance(models, dict):
        raise ValueError(f"{path}: `models` must be a mapping of model id to profile")
    return {str(k): ModelProfile.model_validate(v or {}) for k, v in models.items()}


@cache
def _shipped() -> tuple[tuple[str, ModelProfile], ...]:
    return tuple(load_profiles(PROFILES_FILE).items())


def shipped_profiles() -> dict[str, ModelProfile]:
    """The profiles of the example catalog's models that ship with the simulator (`models.yaml`)."""
    return dict(_shipped())


def resolve_profile(model_id: str, profiles: dict[str, ModelProfile]) -> ModelProfile:
    """Exact id, else the longest configured prefix of it, else a default by name."""
    found = profiles.get(model_id)
    if found is not None:
        return found
    best = ""
    for known in profiles:
        if len(known) > len(best) and model_id.startswith(known):
            best = known
    if best:
        return profiles[best]
    return default_profile_for(model_id)

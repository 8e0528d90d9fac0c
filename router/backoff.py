"""How long to wait before retrying the same model, and how many times it may be retried.

This is the only retry layer: the SDKs' own retries are off, so that retries never
multiply across layers and every attempt is counted and priced. The counts here are the
whole story: `retries_allowed` retries after the first call, then the route moves on to
its fallbacks.
"""

from __future__ import annotations

import random

from llmrouter.core.errors import (
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmrouter.router.config import RetrySettings

__all__ = ["retries_allowed", "retry_delay_s"]

# 2.0 ** 1024 overflows a float; any exponent past this is far above every sane max_delay_s.
_MAX_EXPONENT = 64

_RNG = random.Random()


def retry_delay_s(
    attempt: int,
    settings: RetrySettings,
    retry_after_s: float | None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before retry number `attempt` (0 for the first retry), or None.

    Full jitter: uniform(0, min(max_delay_s, base_delay_s * 2**attempt)), so replicas that
    failed together do not retry together. A provider's Retry-After is a floor, never
    shortened by jitter (a retry before the provider's time is a wasted, possibly billed call). None means "do not wait; go to a fallback":
    the provider asked for longer than `max_retry_after_s`, and a request should not sit
    idle that long while other models are available.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if retry_after_s is not None and retry_after_s > settings.max_retry_after_s:
        return None
    ceiling = min(settings.max_delay_s, settings.base_delay_s * 2.0 ** min(attempt, _MAX_EXPONENT))
    jittered = (rng or _RNG).uniform(0.0, ceiling)
    if retry_after_s is None:
        return jittered
    return max(retry_after_s, jittered)


def retries_allowed(error: ProviderError, settings: RetrySettings) -> int:
    """How many times the same model may be retried after `error`.

    Only transient failures are retried; AuthenticationFailed and BadRequest (including
    ContextLengthExceeded and ContentPolicyViolation) would fail the same way again.
    """
    if isinstance(error, RateLimited):
        return settings.rate_limited
    if isinstance(error, ProviderTimeout):
        return settings.timeout
    if isinstance(error, ProviderUnavailable):
        return settings.server_error
    if isinstance(error, MalformedResponse):
        return settings.malformed
    return 0

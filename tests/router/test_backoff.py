from __future__ import annotations

import random

import pytest

import llmrouter.core.errors as errors
from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentPolicyViolation,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmrouter.router.backoff import retries_allowed, retry_delay_s
from llmrouter.router.config import RetrySettings

SETTINGS = RetrySettings(
    rate_limited=3,
    timeout=2,
    server_error=4,
    malformed=1,
    base_delay_s=0.25,
    max_delay_s=8.0,
    max_retry_after_s=10.0,
)


class _Ceiling(random.Random):
    """Always draws the top of the jitter range, to check the ceiling itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 0.25), (1, 0.5), (2, 1.0), (5, 8.0), (6, 8.0), (10_000, 8.0)]
)
def test_ceiling_doubles_then_caps(attempt: int, ceiling: float) -> None:
    assert retry_delay_s(attempt, SETTINGS, None, _Ceiling()) == ceiling


def test_full_jitter_spans_zero_to_ceiling() -> None:
    rng = random.Random(7)
    delays = [retry_delay_s(3, SETTINGS, None, rng) for _ in range(2000)]
    assert all(d is not None and 0.0 <= d <= 2.0 for d in delays)
    floats = [d for d in delays if d is not None]
    # Full jitter, not "equal jitter": values near zero occur too.
    assert min(floats) < 0.1
    assert max(floats) > 1.9


def test_retry_after_is_a_floor() -> None:
    assert retry_delay_s(0, SETTINGS, 3.0, _Ceiling()) == 3.0
    assert retry_delay_s(10, SETTINGS, 3.0, _Ceiling()) == 8.0  # backoff already longer


def test_retry_after_at_the_limit_still_waits() -> None:
    assert retry_delay_s(0, SETTINGS, 10.0, _Ceiling()) == 10.0


def test_retry_after_over_the_limit_means_fallback() -> None:
    assert retry_delay_s(0, SETTINGS, 10.5) is None


def test_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay_s(-1, SETTINGS, None)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RateLimited("slow down", retry_after_s=1.0), 3),
        (ProviderTimeout("t"), 2),
        (ProviderUnavailable("503"), 4),
        (MalformedResponse("junk"), 1),
        (AuthenticationFailed("401"), 0),
        (BadRequest("400"), 0),
        (ContextLengthExceeded("too long"), 0),
        (ContentPolicyViolation("refused"), 0),
        (ProviderError("unknown"), 0),
    ],
)
def test_retries_per_error_type(error: ProviderError, expected: int) -> None:
    assert retries_allowed(error, SETTINGS) == expected


def _subclasses(cls: type[ProviderError]) -> list[type[ProviderError]]:
    found: list[type[ProviderError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


@pytest.mark.parametrize("cls", _subclasses(ProviderError), ids=lambda c: c.__name__)
def test_retry_counts_agree_with_retryable_flag(cls: type[ProviderError]) -> None:
    """A new error class must be placed: retried exactly when it says it is retryable."""
    assert getattr(errors, cls.__name__) is cls
    assert (retries_allowed(cls("x"), SETTINGS) > 0) is cls.retryable

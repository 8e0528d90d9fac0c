"""Per-model circuit breaker: stop calling a model that keeps failing, then probe it.

Usage, around every call to the model (BaseException so a cancelled probe frees its slot):

    await breaker.admit()                 # raises ModelCoolingDown: try a fallback
    try:
        answer = await call()
    except BaseException as exc:
        breaker.record_failure(exc)
        raise
    breaker.record_success()
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from llmrouter.core.errors import (
    MalformedResponse,
    ModelCoolingDown,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from llmrouter.router.config import CooldownSettings

__all__ = ["Breaker", "BreakerState", "CircuitBreaker", "counts_as_failure"]

# Failures that say the model is unhealthy. BadRequest or AuthenticationFailed say the
# request or our key is wrong; cooling the model down would punish every other request.
# A spent quota fails every call until someone pays, so it counts: requests skip ahead.
_COUNTED = (RateLimited, ProviderTimeout, ProviderUnavailable, MalformedResponse, QuotaExceeded)


def counts_as_failure(error: BaseException) -> bool:
    """Whether `error` says the model is unhealthy (and so moves its breaker)."""
    return isinstance(error, _COUNTED)


class Breaker(Protocol):
    """What a call needs of a model's breaker, per process or shared by every replica."""

    async def admit(self) -> None:
        """Return when a call may go through now; else raise ModelCoolingDown."""

    def record_success(self) -> None: ...

    def record_failure(self, error: BaseException) -> None: ...


class BreakerState(StrEnum):
    #: healthy: every call goes through; consecutive counted failures are tallied
    CLOSED = "closed"
    #: cooling down: no call goes through until the cooldown has passed
    OPEN = "open"
    #: cooldown over: exactly one probe call goes through; its outcome closes or reopens
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `settings.failures` consecutive counted failures, for `cooldown_s`
    (or the provider's Retry-After, if longer), then lets one probe decide.

    Per process: each replica learns a model's health from its own calls.
    `router/state/breaker.py` shares the open state and the probe with every replica.
    """

    def __init__(
        self,
        model: str,
        settings: CooldownSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self._settings = settings
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._open_until = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        return self._state

    @property
    def retry_in_s(self) -> float:
        """Seconds until a call may go through (0.0 when one may now)."""
        state = self.state
        if state is BreakerState.OPEN:
            return max(0.0, self._open_until - self._clock())
        if state is BreakerState.HALF_OPEN and self._probe_in_flight:
            # The probe's outcome is unknown; if it fails the model is out for a full
            # cooldown, so callers deciding whether to wait should assume that.
            return self._settings.cooldown_s
        return 0.0

    @property
    def open_for_s(self) -> float:
        """Seconds the circuit stays open (0.0 unless it is open)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self._open_until - self._clock())
        return 0.0

    async def admit(self) -> None:
        self.before_call()

    def before_call(self) -> None:
        """Raise ModelCoolingDown unless a call may go through now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        raise ModelCoolingDown(self.model, self.retry_in_s)

    def record_success(self) -> None:
        # Any answer proves the model serves again, including one that started earlier.
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self, error: BaseException) -> None:
        state = self.state
        if not isinstance(error, _COUNTED):
            # Neither healthy nor unhealthy; only free the probe slot so the next call probes.
            self._probe_in_flight = False
            return
        if state is BreakerState.OPEN:
            return  # a call that started before the circuit opened; already cooling down
        self._failures += 1
        if state is BreakerState.HALF_OPEN or self._failures >= self._settings.failures:
            self._open(error)

    def _open(self, error: BaseException) -> None:
        cooldown_s = self._settings.cooldown_s
        if isinstance(error, RateLimited) and error.retry_after_s is not None:
            cooldown_s = max(cooldown_s, error.retry_after_s)  # honour Retry-After
        self._state = BreakerState.OPEN
        self._open_until = self._clock() + cooldown_s
        self._probe_in_flight = False

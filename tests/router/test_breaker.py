from __future__ import annotations

import asyncio

import pytest

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    ContextLengthExceeded,
    MalformedResponse,
    ModelCoolingDown,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmrouter.router.breaker import BreakerState, CircuitBreaker
from llmrouter.router.config import CooldownSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("gpt-4", CooldownSettings(failures=3, cooldown_s=5.0), clock=clock)


def state(breaker: CircuitBreaker) -> BreakerState:
    # A call, not the property: mypy would keep a property narrowed across fail() calls.
    return breaker.state


def fail(breaker: CircuitBreaker, error: BaseException, times: int = 1) -> None:
    for _ in range(times):
        breaker.before_call()
        breaker.record_failure(error)


def test_opens_after_n_consecutive_counted_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, ProviderTimeout("t"), times=2)
    assert state(breaker) is BreakerState.CLOSED
    fail(breaker, ProviderUnavailable("503"))
    assert state(breaker) is BreakerState.OPEN
    assert breaker.retry_in_s == 5.0


def test_a_success_resets_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, MalformedResponse("junk"), times=2)
    breaker.record_success()
    fail(breaker, MalformedResponse("junk"), times=2)
    assert state(breaker) is BreakerState.CLOSED


def test_skips_calls_while_open(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, ProviderTimeout("t"), times=3)
    clock.now += 2.0
    with pytest.raises(ModelCoolingDown) as info:
        breaker.before_call()
    assert info.value.model == "gpt-4"
    assert info.value.retry_in_s == pytest.approx(3.0)


def test_half_open_lets_exactly_one_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, ProviderTimeout("t"), times=3)
    clock.now += 5.0
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.retry_in_s == 0.0
    breaker.before_call()  # the probe
    with pytest.raises(ModelCoolingDown):
        breaker.before_call()
    assert breaker.retry_in_s == 5.0  # pessimistic while the probe's outcome is unknown


def test_probe_success_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, ProviderTimeout("t"), times=3)
    clock.now += 5.0
    breaker.before_call()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    breaker.before_call()
    breaker.before_call()  # no longer limited to one call


def test_probe_failure_reopens(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, ProviderTimeout("t"), times=3)
    clock.now += 5.0
    fail(breaker, ProviderUnavailable("503"))  # one failure is enough while half-open
    assert state(breaker) is BreakerState.OPEN
    assert breaker.retry_in_s == 5.0
    with pytest.raises(ModelCoolingDown):
        breaker.before_call()


@pytest.mark.parametrize(
    "error",
    [
        BadRequest("400"),
        ContextLengthExceeded("long"),
        AuthenticationFailed("401"),
        ProviderError("?"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_non_counted_errors_do_not_open(breaker: CircuitBreaker, error: ProviderError) -> None:
    fail(breaker, error, times=10)
    assert state(breaker) is BreakerState.CLOSED


def test_non_counted_errors_do_not_reset_the_count(breaker: CircuitBreaker) -> None:
    fail(breaker, ProviderTimeout("t"), times=2)
    fail(breaker, BadRequest("400"))
    fail(breaker, ProviderTimeout("t"))
    assert state(breaker) is BreakerState.OPEN


def test_cancelled_probe_frees_the_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, ProviderTimeout("t"), times=3)
    clock.now += 5.0
    fail(breaker, asyncio.CancelledError())
    assert state(breaker) is BreakerState.HALF_OPEN
    breaker.before_call()  # the next call may probe


def test_late_failure_while_open_does_not_extend(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, ProviderTimeout("t"), times=3)
    clock.now += 4.0
    breaker.record_failure(ProviderTimeout("started before the circuit opened"))
    assert breaker.retry_in_s == pytest.approx(1.0)


def test_retry_after_longer_than_cooldown_is_honoured(breaker: CircuitBreaker) -> None:
    fail(breaker, ProviderTimeout("t"), times=2)
    fail(breaker, RateLimited("429", retry_after_s=30.0))
    assert breaker.retry_in_s == 30.0

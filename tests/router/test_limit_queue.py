"""A model's `queue_s`: a call that gets no rate-limit slot in time is not made, and the
route moves on — per process, through the shared store, and end to end in the router."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from llmrouter.core.errors import ConfigError, LimitQueueFull
from llmrouter.router.breaker import BreakerState, CircuitBreaker
from llmrouter.router.config import ModelSpec, Provider
from llmrouter.router.config_loader import parse_config
from llmrouter.router.ratelimit import QUEUE_FULL, ModelLimiter
from llmrouter.router.state import StateStore
from llmrouter.router.state.limits import SharedLimiter
from llmrouter.schemas import LLMRequest, ResultStatus
from tests.factories import catalog, routing_config, static_route
from tests.router.conftest import MakeRouter
from tests.router.test_ratelimit import FakeTime


def spec(
    *,
    queue_s: float | None,
    rpm: int | None = None,
    max_concurrency: int = 64,
) -> ModelSpec:
    return ModelSpec(
        provider=Provider.OPENAI,
        model_id="gpt-test",
        input_usd_per_1k=Decimal(0),
        output_usd_per_1k=Decimal(0),
        max_concurrency=max_concurrency,
        rpm=rpm,
        queue_s=queue_s,
    )


# -- per process --------------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


async def test_a_caller_past_queue_s_is_turned_away_having_taken_nothing(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=1, queue_s=0.5), model="m", clock=fake.clock, sleep=fake.sleep)
    counted = QUEUE_FULL["m"]
    async with limiter.slot(1):
        pass
    with pytest.raises(LimitQueueFull) as info:
        async with limiter.slot(1):
            raise AssertionError("admitted past the queue bound")
    assert fake.sleeps == [pytest.approx(0.5)]  # waited its queue_s, not the 60 s refill
    assert info.value.model == "m"
    assert "limit queue full" in str(info.value)
    assert QUEUE_FULL["m"] == counted + 1
    assert limiter.waiting == 0
    # The turned-away caller took nothing: the slot refilled a minute after the first
    # call is there for the next caller without a wait.
    fake.now += 59.5
    async with limiter.slot(1):
        pass
    assert fake.sleeps == [pytest.approx(0.5)]


async def test_a_slot_that_frees_by_the_deadline_is_taken(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=1, queue_s=60.0), clock=fake.clock, sleep=fake.sleep)
    async with limiter.slot(1):
        pass
    async with limiter.slot(1):  # the refill takes exactly the queue bound
        pass
    assert sum(fake.sleeps) == pytest.approx(60.0)


async def test_without_queue_s_a_caller_waits_as_long_as_it_takes(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=1, queue_s=None), clock=fake.clock, sleep=fake.sleep)
    async with limiter.slot(1):
        pass
    async with limiter.slot(1):
        pass
    assert fake.sleeps == [pytest.approx(60.0)]


async def test_a_caller_waiting_for_concurrency_is_turned_away_and_frees_its_place() -> None:
    limiter = ModelLimiter(spec(max_concurrency=1, queue_s=0.05))
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with limiter.slot(1):
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    with pytest.raises(LimitQueueFull):
        async with limiter.slot(1):
            raise AssertionError("admitted past the concurrency bound")
    assert limiter.waiting == 0
    release.set()
    await holder
    async with asyncio.timeout(5):  # the gate was not leaked by the turned-away caller
        async with limiter.slot(1):
            assert limiter.in_flight == 1


async def test_queue_s_zero_turns_away_at_once_but_admits_a_free_slot(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=1, queue_s=0), clock=fake.clock, sleep=fake.sleep)
    async with limiter.slot(1):
        pass
    with pytest.raises(LimitQueueFull):
        async with limiter.slot(1):
            pass
    assert fake.sleeps == []


def test_queue_s_must_not_be_negative() -> None:
    text = """\
version: 1
models:
  m:
    provider: openai
    model_id: gpt-test
    input_usd_per_1k: 0
    output_usd_per_1k: 0
    queue_s: -1
tasks:
  qa:
    route: {strategy: static, model: m}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.key == "models.m.queue_s"
    assert info.value.line == 8


# -- shared through the store ----------------------------------------------------------------


async def test_shared_callers_past_queue_s_are_turned_away_having_taken_nothing(
    state_store: StateStore,
) -> None:
    model = "shared-q"
    fleet = [
        SharedLimiter(model, spec(rpm=2, queue_s=0.3), state_store, window_s=30.0) for _ in range(2)
    ]
    counted = QUEUE_FULL[model]
    for limiter in fleet:
        async with limiter.slot(1):
            pass
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def turned_away(limiter: SharedLimiter) -> BaseException | None:
        try:
            async with limiter.slot(1):
                return None
        except LimitQueueFull as exc:
            return exc

    # Three waiters in one process (queued behind its lock) and one in the other.
    outcomes = await asyncio.gather(*(turned_away(fleet[i % 2]) for i in (0, 0, 0, 1)))
    assert all(isinstance(o, LimitQueueFull) for o in outcomes), outcomes
    # Each gave up after its queue_s (0.3 s, the three behind one lock one after another),
    # not the 30 s window: the bound is half the window, room for a loaded machine.
    assert loop.time() - started < 15.0
    assert QUEUE_FULL[model] == counted + 4
    calls = state_store.key("limit", model, "calls")
    assert await state_store.run(lambda c: c.zcard(calls)) == 2  # nothing was admitted


# -- the router ------------------------------------------------------------------------------


def router_config(*fallback: str) -> str:
    """`cheap` allows one call a minute and waits 0.05 s for a slot; then `fallback`."""
    return routing_config(
        defaults={
            "max_calls_per_request": 1,
            "max_output_tokens": 50,
            "cooldown": {"failures": 1, "cooldown_s": 30, "max_wait_s": 0},
            "cache": {"enabled": False},
        },
        models=catalog("cheap", "mid", cheap={"rpm": 1, "queue_s": 0.05}),
        tasks={"qa": static_route("cheap", *fallback)},
    )


def request(text: str) -> LLMRequest:
    return LLMRequest(request_id=f"r-{uuid.uuid4().hex[:8]}", task="qa", input=text)


async def test_a_full_queue_moves_on_to_the_fallback_without_an_attempt(
    make_router: MakeRouter,
) -> None:
    router = await make_router(router_config("mid"))
    first = (await router.route(request("first"))).result
    assert [a.model for a in first.attempts] == ["cheap"]
    # The next minute's slot is far off: no call to cheap, one to mid. With one upstream
    # call allowed per request, mid is reached only because the unmade call was given back.
    second = (await router.route(request("second"))).result
    assert second.status is ResultStatus.OK
    assert second.model == "mid"
    assert second.fallback_used
    assert [(a.model, a.outcome.value) for a in second.attempts] == [("mid", "ok")]
    breaker = router.caller.breakers["cheap"]
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.state is BreakerState.CLOSED  # failures: 1 would have opened it


async def test_with_no_model_left_the_result_says_the_queue_was_full(
    make_router: MakeRouter,
) -> None:
    router = await make_router(router_config())
    await router.route(request("first"))
    routed = await router.route(request("second"))
    assert routed.failure is not None
    assert [type(e) for e in routed.failure.exceptions] == [LimitQueueFull]
    result = routed.result
    assert result.status is ResultStatus.FAILED
    assert result.attempts == []
    assert result.error is not None
    assert "cheap: limit queue full" in result.error

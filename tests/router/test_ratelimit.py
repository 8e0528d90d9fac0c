from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from llmrouter.router.config import ModelSpec, Provider
from llmrouter.router.ratelimit import ModelLimiter


def spec(max_concurrency: int = 64, rpm: int | None = None, tpm: int | None = None) -> ModelSpec:
    return ModelSpec(
        provider=Provider.OPENAI,
        model_id="gpt-test",
        input_usd_per_1k=Decimal(0),
        output_usd_per_1k=Decimal(0),
        max_concurrency=max_concurrency,
        rpm=rpm,
        tpm=tpm,
    )


class FakeTime:
    """A clock plus a sleep that advances it instantly and records each requested wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


async def acquire(limiter: ModelLimiter, tokens: int = 1, times: int = 1) -> None:
    for _ in range(times):
        async with limiter.slot(tokens):
            pass


async def until(condition: Callable[[], bool], *, max_yields: int = 1000) -> None:
    """Yield to the loop (no delay) until `condition()` holds."""
    for _ in range(max_yields):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_concurrency_bound_holds_under_50_tasks() -> None:
    limiter = ModelLimiter(spec(max_concurrency=5))
    gate = asyncio.Event()
    current = peak = 0

    async def call() -> None:
        nonlocal current, peak
        async with limiter.slot(10):
            current += 1
            peak = max(peak, current)
            await gate.wait()
            await asyncio.sleep(0)
            current -= 1

    tasks = [asyncio.create_task(call()) for _ in range(50)]
    await until(lambda: limiter.in_flight == 5 and limiter.waiting == 45)
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 5
    assert (limiter.in_flight, limiter.waiting) == (0, 0)


async def test_rpm_bucket_starts_full_then_waits_one_interval(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=60), clock=fake.clock, sleep=fake.sleep)
    await acquire(limiter, times=60)
    assert fake.sleeps == []
    await acquire(limiter)
    assert fake.sleeps == [pytest.approx(1.0)]  # 60 s / 60 rpm
    await acquire(limiter)
    assert fake.sleeps == [pytest.approx(1.0)] * 2


async def test_tpm_wait_is_the_token_deficit(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(tpm=600), clock=fake.clock, sleep=fake.sleep)  # 10 tokens/s
    await acquire(limiter, tokens=500)
    await acquire(limiter, tokens=300)  # 100 left, 200 short
    assert fake.sleeps == [pytest.approx(20.0)]


async def test_waits_for_the_slower_bucket(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=60, tpm=600), clock=fake.clock, sleep=fake.sleep)
    await acquire(limiter, tokens=600)
    await acquire(limiter, tokens=30)  # rpm needs 0 s, tpm needs 3 s
    assert fake.sleeps == [pytest.approx(3.0)]


async def test_refill_is_capped_at_capacity(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=60), clock=fake.clock, sleep=fake.sleep)
    fake.now += 3600  # an idle hour does not bank an hour of requests
    await acquire(limiter, times=60)
    assert fake.sleeps == []
    await acquire(limiter)
    assert fake.sleeps == [pytest.approx(1.0)]


async def test_request_larger_than_tpm_is_admitted_on_a_full_bucket(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(tpm=100), clock=fake.clock, sleep=fake.sleep)
    await acquire(limiter, tokens=5000)
    assert fake.sleeps == []
    await acquire(limiter, tokens=10)
    assert fake.sleeps == [pytest.approx(6.0)]


async def test_replicas_split_every_limit(fake: FakeTime) -> None:
    limiter = ModelLimiter(
        spec(max_concurrency=10, rpm=60), replicas=3, clock=fake.clock, sleep=fake.sleep
    )
    await acquire(limiter, times=20)
    assert fake.sleeps == []
    await acquire(limiter)
    assert fake.sleeps == [pytest.approx(3.0)]  # 20 rpm per replica


async def test_cancelled_waiter_consumes_nothing(fake: FakeTime) -> None:
    blocked = asyncio.Event()

    async def blocking_sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)
        blocked.set()
        await asyncio.Event().wait()  # until cancelled

    limiter = ModelLimiter(spec(rpm=1), clock=fake.clock, sleep=blocking_sleep)
    await acquire(limiter)
    waiter = asyncio.create_task(acquire(limiter))
    await blocked.wait()
    assert (limiter.in_flight, limiter.waiting) == (0, 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (limiter.in_flight, limiter.waiting) == (0, 0)

    fake.now += 60.0  # exactly one request's worth refilled, still there to take
    await acquire(limiter)
    assert fake.sleeps == [pytest.approx(60.0)]


async def test_waiters_are_admitted_in_arrival_order(fake: FakeTime) -> None:
    limiter = ModelLimiter(spec(rpm=60), clock=fake.clock, sleep=fake.sleep)
    await acquire(limiter, times=60)
    order: list[int] = []

    async def call(i: int) -> None:
        async with limiter.slot(1):
            order.append(i)

    await asyncio.gather(*(call(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert fake.sleeps == [pytest.approx(1.0)] * 5


def test_replicas_must_be_positive() -> None:
    with pytest.raises(ValueError, match="replicas"):
        ModelLimiter(spec(), replicas=0)

"""Rate limits shared through a real redis-server hold across replicas."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from llmrouter.router.config import ModelSpec, Provider
from llmrouter.router.ratelimit import ModelLimiter
from llmrouter.router.state import StateStore
from llmrouter.router.state.limits import SharedLimiter


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


async def test_three_replicas_share_one_rpm(state_store: StateStore) -> None:
    # rpm 30 over a 2 s window: the same mechanism as a minute, thirty times faster.
    fleet = [SharedLimiter("m", spec(rpm=30), state_store, window_s=2.0) for _ in range(3)]
    loop = asyncio.get_running_loop()
    admitted: list[float] = []

    async def call(limiter: SharedLimiter) -> None:
        async with limiter.slot(10):
            admitted.append(loop.time())

    started = loop.time()
    await asyncio.gather(*(call(fleet[i % 3]) for i in range(75)))
    admitted.sort()
    assert len(admitted) == 75
    # No 2 s window holds more than 30 admissions. An admission is timed when its caller
    # runs again, which a loaded machine can delay, so the slack is a quarter of the window:
    # replicas that did not share the limit would admit all 75 at once (gaps near 0).
    for i in range(len(admitted) - 30):
        assert admitted[i + 30] - admitted[i] >= 2.0 - 0.5
    # Queued, not starved: 75 at 30 a window take about three windows (6 s); the bound is
    # five times that, and a starved caller would never get in at all.
    assert loop.time() - started < 30.0


async def test_concurrency_is_one_count_across_replicas(state_store: StateStore) -> None:
    fleet = [SharedLimiter("m", spec(max_concurrency=3), state_store) for _ in range(3)]
    current = peak = 0

    async def call(limiter: SharedLimiter) -> None:
        nonlocal current, peak
        async with limiter.slot(1):
            current += 1
            peak = max(peak, current)
            await asyncio.sleep(0.02)
            current -= 1

    await asyncio.gather(*(call(fleet[i % 3]) for i in range(30)))
    assert peak == 3


async def test_a_killed_replicas_slots_expire(state_store: StateStore) -> None:
    dead = SharedLimiter("m", spec(max_concurrency=1), state_store, lease_s=0.3)
    held = dead.slot(1)
    await held.__aenter__()  # and never exits: the process was SIGKILLed mid-call
    alive = SharedLimiter("m", spec(max_concurrency=1), state_store, lease_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # A slot that never expired would hold the only place forever: any finite wait proves
    # the expiry, so the bound is a hundred leases, not a window a loaded machine can miss.
    async with asyncio.timeout(30), alive.slot(1):
        waited_s = loop.time() - started
    assert waited_s > 0.2  # it did wait for the dead replica's 0.3 s lease (a lower bound)


async def test_reported_usage_corrects_the_token_estimate(state_store: StateStore) -> None:
    limiter = SharedLimiter("m", spec(tpm=100), state_store, window_s=5.0)
    loop = asyncio.get_running_loop()
    async with limiter.slot(80) as lease:
        lease.report(10)  # the estimate was far too high
    started = loop.time()
    async with limiter.slot(80):
        pass  # 10 + 80 <= 100: no wait
    # Waiting for the window would take its 5 s; half of that leaves a loaded machine room.
    assert loop.time() - started < 2.5
    waiter = asyncio.create_task(_enter(limiter, 80))
    await asyncio.sleep(0.3)
    assert not waiter.done()  # 90 + 80 > 100: waits for the window
    waiter.cancel()


async def _enter(limiter: SharedLimiter, tokens: int) -> None:
    async with limiter.slot(tokens):
        pass


async def test_local_limiter_follows_the_group_size() -> None:
    limiter = ModelLimiter(spec(max_concurrency=9, rpm=90))
    assert limiter._gate.size == 9
    limiter.set_replicas(3)
    assert limiter._gate.size == 3
    assert limiter._rpm is not None
    assert limiter._rpm.capacity == 30
    limiter.set_replicas(1)
    assert limiter._gate.size == 9

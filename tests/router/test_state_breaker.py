"""Cooldowns shared through a real redis-server: the fleet backs off and probes once."""

from __future__ import annotations

import asyncio

import pytest

from llmrouter.core.errors import BadRequest, ModelCoolingDown, RateLimited
from llmrouter.router.breaker import CircuitBreaker
from llmrouter.router.config import CooldownSettings
from llmrouter.router.state import StateStore
from llmrouter.router.state.breaker import SharedBreaker


def _fleet(store: StateStore, cooldown_s: float, n: int = 3) -> list[SharedBreaker]:
    settings = CooldownSettings(failures=2, cooldown_s=cooldown_s)
    return [SharedBreaker("cheap", settings, store, probe_lease_s=2.0) for _ in range(n)]


async def _admitted(breaker: SharedBreaker) -> bool:
    try:
        await breaker.admit()
    except ModelCoolingDown:
        return False
    return True


async def test_one_replicas_429s_stop_the_others_within_a_second(state_store: StateStore) -> None:
    a, b, c = _fleet(state_store, cooldown_s=1.0)
    assert all([await _admitted(x) for x in (a, b, c)])  # healthy; b and c cache it
    loop = asyncio.get_running_loop()
    for _ in range(2):
        a.record_failure(RateLimited("slow down", retry_after_s=30.0))
    opened_at = loop.time()
    with pytest.raises(ModelCoolingDown) as caught:
        await a.admit()
    assert caught.value.retry_in_s > 20.0  # the Retry-After, not the shorter cooldown
    # The others trust a "closed" answer for 0.2 s (cache_s), so they stop within a fraction
    # of a second. The bound gives a loaded machine fifteen of those and is still far from
    # the 30 s a replica that never looked at the store would keep calling for.
    for other in (b, c):
        while await _admitted(other):
            assert loop.time() - opened_at < 3.0, "another replica kept calling"
            await asyncio.sleep(0.02)
    await a.flush()
    with pytest.raises(ModelCoolingDown) as seen:
        await b.admit()
    assert 20.0 < seen.value.retry_in_s <= 30.0


async def test_after_the_cooldown_one_probe_goes_fleet_wide(state_store: StateStore) -> None:
    fleet = _fleet(state_store, cooldown_s=0.3)
    for _ in range(2):
        fleet[0].record_failure(RateLimited("busy"))
    await fleet[0].flush()
    assert not any([await _admitted(x) for x in fleet])
    await asyncio.sleep(0.35)  # the cooldown's length: nothing to wait on but time
    admitted = [x for x in fleet if await _admitted(x)]
    assert len(admitted) == 1
    # Everybody else is refused while the probe is out.
    assert not any([await _admitted(x) for x in fleet if x is not admitted[0]])
    admitted[0].record_success()
    await admitted[0].flush()
    assert all([await _admitted(x) for x in fleet])


async def test_a_failed_probe_reopens_and_an_uncounted_one_frees_the_slot(
    state_store: StateStore,
) -> None:
    a, b = _fleet(state_store, cooldown_s=0.2, n=2)
    for _ in range(2):
        a.record_failure(RateLimited("busy"))
    await a.flush()
    await asyncio.sleep(0.25)
    probe = a if await _admitted(a) else b
    other = b if probe is a else a
    probe.record_failure(BadRequest("not the model's fault"))
    await probe.flush()
    assert await _admitted(other)  # the slot was freed: the other probes now
    other.record_failure(RateLimited("still busy"))
    await other.flush()
    assert not await _admitted(probe)  # reopened for everyone


async def test_the_local_breaker_keeps_its_interface() -> None:
    breaker = CircuitBreaker("m", CooldownSettings(failures=1, cooldown_s=60))
    await breaker.admit()
    breaker.record_failure(RateLimited("x"))
    with pytest.raises(ModelCoolingDown):
        await breaker.admit()
    assert 30.0 < breaker.open_for_s <= 60.0  # the cooldown, read with room for a slow machine

"""Shadow and judge calls share each model's limits with live traffic but never take the
last of them (workers/quality/calls.py): a real redis-server holds the shared limits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from llmrouter.core.errors import LimitQueueFull
from llmrouter.router.config_loader import parse_config
from llmrouter.router.state import StateStore
from llmrouter.router.state.limits import SharedLimiter
from llmrouter.workers.quality.calls import WATCH_QUEUE_S, WATCH_SHARE, watch_config
from tests.factories import catalog, routing_config, static_route


def _config(**big: Any) -> str:
    task = static_route(
        "cheap",
        shadow={"rate": 0.1, "models": ["big"], "daily_budget_usd": 5},
        judge={"model": "big", "rubric": "tone", "sample_rate": 0.1},
    )
    return routing_config(models=catalog("cheap", "big", big=big), tasks={"qa": task})


def test_watch_calls_see_a_share_of_each_limit_and_a_short_wait() -> None:
    live = parse_config(_config(rpm=10, tpm=1_000, max_concurrency=5))
    watch = watch_config(live)
    assert watch is not None
    big = watch.models["big"]
    assert (big.rpm, big.tpm, big.max_concurrency) == (8, 800, 4)
    assert big.queue_s == WATCH_QUEUE_S
    assert WATCH_SHARE < 1
    # a limit the model does not have stays unset; prices are the live ones
    cheap = watch.models["cheap"]
    assert cheap.rpm is None
    assert cheap.tpm is None
    assert cheap.input_usd_per_1k == live.models["cheap"].input_usd_per_1k


async def test_live_traffic_keeps_the_rest_of_a_shared_rpm(state_store: StateStore) -> None:
    live, shadow = _limiters(state_store, rpm=10)
    async with _live_calls(live, 8):
        # eight of ten calls this minute are live: a watch call finds no room and is
        # turned away within its wait, having taken nothing
        with pytest.raises(LimitQueueFull):
            async with shadow.slot(10):
                pytest.fail("a watch call was admitted over its share")
        # the live routers still get the last two
        async with live.slot(10), live.slot(10):
            pass


async def test_a_watch_call_is_admitted_while_there_is_room(state_store: StateStore) -> None:
    live, shadow = _limiters(state_store, rpm=10)
    async with _live_calls(live, 7), shadow.slot(10):
        pass  # the eighth call of the minute: within the watch share


def _limiters(store: StateStore, *, rpm: int) -> tuple[SharedLimiter, SharedLimiter]:
    """The shared limiters of model `big` (at `rpm`) as the live routers and as the
    quality worker's watch calls see it."""
    live_config = parse_config(_config(rpm=rpm))
    watch = watch_config(live_config)
    assert watch is not None
    return (
        SharedLimiter("big", live_config.models["big"], store),
        SharedLimiter("big", watch.models["big"], store),
    )


@contextlib.asynccontextmanager
async def _live_calls(limiter: SharedLimiter, count: int) -> AsyncIterator[None]:
    """`count` live calls in flight at once (each admitted call stays in the minute's log)."""
    async with contextlib.AsyncExitStack() as held:
        for _ in range(count):
            await asyncio.wait_for(held.enter_async_context(limiter.slot(10)), 10)
        yield

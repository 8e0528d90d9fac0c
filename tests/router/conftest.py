"""Routing tests run the real SDKs over HTTP against the provider simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from llmrouter.router import RoutingEngine
from llmrouter.router.config import RouterConfig
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool

MakeRouter = Callable[..., Awaitable[RoutingEngine]]


@pytest.fixture
async def sim_stats(sim_url: str) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
    """Resets the simulator's counters; call the returned function to read them."""
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim_url}/_sim/reset") as resp:
            assert resp.status == 200

        async def read() -> dict[str, Any]:
            async with http.get(f"{sim_url}/_sim/stats") as resp:
                data: dict[str, Any] = await resp.json()
                return data

        yield read


@pytest.fixture
async def make_router(sim_url: str) -> AsyncIterator[MakeRouter]:
    """Factory: a RoutingEngine on a config (YAML text or model) pointed at the simulator."""
    routers: list[RoutingEngine] = []

    async def make(config: str | RouterConfig, **kwargs: Any) -> RoutingEngine:
        cfg = parse_config(config) if isinstance(config, str) else config
        router = RoutingEngine(cfg, pool=ProviderPool(cfg.models, simulator_url=sim_url), **kwargs)
        routers.append(router)
        return router

    yield make
    for router in routers:
        await router.aclose()

"""A full state store evicts nothing: under `maxmemory-policy noeviction` (the bundled
Redis of the chart and of docker-compose) writes are refused instead, the router falls back
to per-process limits and still answers, and every limiter and budget key stays."""

from __future__ import annotations

import uuid

import pytest
from redis import asyncio as aioredis
from redis.exceptions import OutOfMemoryError

from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.state.store import StateStore
from llmrouter.router.state.wiring import open_state
from llmrouter.schemas import LLMRequest, ResultStatus
from tests.factories import catalog, routing_config, static_route
from tests.redis_helpers import redis_available, running_redis

CONFIG = routing_config(
    defaults={"cache": {"enabled": False}},
    models=catalog("mid", mid={"rpm": 600}),
    tasks={"qa": static_route("mid", budget={"daily_usd": 100, "downgrade_to": "mid"})},
)


def _request(i: int) -> LLMRequest:
    return LLMRequest(request_id=uuid.uuid4().hex, task="qa", input=f"question {i}")


async def _fill(admin: aioredis.Redis) -> int:
    """Write 1 KiB keys until the server refuses one; how many it took."""
    for count in range(100_000):
        try:
            await admin.set(f"junk:{count}", b"x" * 1024, ex=3600)
        except OutOfMemoryError:
            return count
    raise AssertionError("the server took 100 MB under a 4 MB cap")


@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed")
async def test_a_full_store_refuses_writes_and_evicts_no_state(
    sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    config = parse_config(CONFIG)
    args = ("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    async with running_redis(*args) as url:
        store = StateStore.connect(url, prefix="full")
        router = RoutingEngine(config, state=open_state(config, store=store))
        admin = aioredis.Redis.from_url(url)
        try:
            assert (await router.route(_request(0))).result.status is ResultStatus.OK
            state_keys = sorted(await admin.keys("full:*"))
            assert any(b":limit:" in k for k in state_keys)
            assert any(b":budget:" in k for k in state_keys)
            # Fill the rest with keys that carry a TTL, as the cache's and dedupe's do:
            # under volatile-* policies these and the state's would be evicted in turn.
            filled = await _fill(admin)
            assert filled > 100
            # Full: the router still answers (per-process limits stand in) ...
            routed = [await router.route(_request(i)) for i in range(1, 4)]
            assert [r.result.status for r in routed] == [ResultStatus.OK] * 3
            # ... and no key of the shared state was evicted.
            assert set(state_keys) <= set(await admin.keys("full:*"))
            info = await admin.info("stats")
            assert info["evicted_keys"] == 0
        finally:
            await admin.aclose()
            await router.aclose()

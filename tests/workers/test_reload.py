"""A SIGHUP reload closes what it replaces and keeps what limits the world: the replaced
router's provider clients close once its calls are done, the store connection stays the
one, and a model at its rpm stays at its rpm (its token bucket is not refilled)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.base import ProviderClient
from llmrouter.router.state.store import StateStore
from llmrouter.router.state.wiring import open_state
from llmrouter.schemas import LLMRequest, ResultStatus
from llmrouter.workers.lifecycle import ConfigReloader
from tests.factories import catalog, routing_config, static_route

RPM = 20


class User:
    """A handler's view: the router it routes with when a record arrives."""

    def __init__(self, router: RoutingEngine) -> None:
        self.router = router


def _config_text(model_id: str, *, cheap_price: float) -> str:
    return routing_config(
        defaults={"cache": {"enabled": False}},
        models=catalog(
            "cheap",
            "mid",
            mid={"model_id": model_id, "rpm": RPM, "queue_s": 0},
            cheap={"input_usd_per_1k": cheap_price},
        ),
        tasks={"qa": static_route("mid"), "summ": static_route("cheap")},
    )


def _closed(client: ProviderClient) -> bool:
    """Whether the provider client's HTTP connections and SDK client are closed."""
    endpoint: Any = client._endpoint  # type: ignore[attr-defined]
    http = endpoint._http_client
    return bool((http is None or http.closed) and endpoint.client.is_closed())


def _request(task: str, i: int) -> LLMRequest:
    return LLMRequest(request_id=uuid.uuid4().hex, task=task, input=f"q{i}")


async def _route_all(user: User, task: str, count: int) -> list[ResultStatus]:
    """`count` requests at once (a model's queue_s of 0: those over its rate fail)."""
    routed = await asyncio.gather(*(user.router.route(_request(task, i)) for i in range(count)))
    return [r.result.status for r in routed]


async def _route_each(user: User, task: str, count: int) -> list[ResultStatus]:
    """`count` requests one after the other (the shared limiter queues concurrent ones)."""
    return [(await user.router.route(_request(task, i))).result.status for i in range(count)]


async def _calls_to(sim_url: str, model_id: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/calls") as resp:
        data = await resp.json()
    return sum(1 for call in data["calls"] if call["model"] == model_id)


async def test_a_reload_keeps_the_rate_and_closes_the_old_clients(
    tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    model_id = f"gpt-3.5-turbo-reload-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "routing.yaml"
    path.write_text(_config_text(model_id, cheap_price=0.00025), encoding="utf-8")
    first = RoutingEngine(parse_config(path.read_text(encoding="utf-8")))
    user = User(first)
    reloader = ConfigReloader(path, [user], first)
    started = time.monotonic()
    try:
        # The bucket starts full: a minute's worth of calls goes out at once.
        assert await _route_all(user, "qa", RPM) == [ResultStatus.OK] * RPM
        await _route_all(user, "summ", 2)  # the anthropic client is made too
        old_clients = list(first.pool._clients.values())
        assert len(old_clients) == 2
        replaced = [first]
        for price in (0.0003, 0.00035):  # two reloads, each changing another model's price
            path.write_text(_config_text(model_id, cheap_price=price), encoding="utf-8")
            assert await reloader.reload() is True
            assert user.router is reloader.router
            assert user.router is not replaced[-1]
            await _route_all(user, "qa", RPM)
            await _route_all(user, "summ", 1)
            replaced.append(user.router)
        # The replaced routers close their clients once idle (they are: nothing in flight).
        await reloader.aclose()
        assert not reloader.retiring
        for router in replaced[:-1]:
            clients = list(router.pool._clients.values())
            assert not clients, "a replaced pool forgets its clients"
        assert all(_closed(c) for c in old_clients), "the first router's clients are open"
        # No second minute's worth of calls after a reload: the limiter went on.
        elapsed_s = time.monotonic() - started
        calls = await _calls_to(sim_url, model_id)
        allowed = RPM + 1 + int(elapsed_s * RPM / 60)
        assert RPM <= calls <= allowed, f"{calls} calls in {elapsed_s:.1f} s at {RPM} rpm"
        assert user.router.state.limiters["mid"] is first.state.limiters["mid"]
        assert user.router.state.budget is first.state.budget
        assert user.router.state.dedupe is first.state.dedupe
    finally:
        await reloader.aclose()
        await reloader.router.aclose()


async def test_a_changed_limit_makes_a_new_limiter(
    tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    path = tmp_path / "routing.yaml"
    path.write_text(_config_text("gpt-3.5-turbo-0125", cheap_price=0.00025), encoding="utf-8")
    first = RoutingEngine(parse_config(path.read_text(encoding="utf-8")))
    reloader = ConfigReloader(path, [User(first)], first)
    try:
        path.write_text(
            _config_text("gpt-3.5-turbo-0125", cheap_price=0.00025).replace(
                f"rpm: {RPM}", f"rpm: {RPM * 2}"
            ),
            encoding="utf-8",
        )
        assert await reloader.reload() is True
        now = reloader.router.state
        assert now.limiters["mid"] is not first.state.limiters["mid"]
        assert now.limiters["cheap"] is first.state.limiters["cheap"]
        assert now.breakers["mid"] is first.state.breakers["mid"]
    finally:
        await reloader.aclose()
        await reloader.router.aclose()


async def _clients_of(redis_url: str, name: str) -> int:
    """Connections to the server whose client name is `name`."""
    from redis import asyncio as aioredis

    admin = aioredis.Redis.from_url(redis_url)
    try:
        listed = await admin.client_list()
    finally:
        await admin.aclose()
    return sum(1 for c in listed if c.get("name") == name)


async def test_a_reload_keeps_the_one_store_connection(
    tmp_path: Path, sim_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    name = f"reload-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "routing.yaml"
    path.write_text(_config_text("gpt-3.5-turbo-0125", cheap_price=0.00025), encoding="utf-8")
    config = parse_config(path.read_text(encoding="utf-8"))
    store = StateStore.connect(f"{redis_url}?client_name={name}", prefix=name)
    first = RoutingEngine(config, state=open_state(config, store=store))
    user = User(first)
    reloader = ConfigReloader(path, [user], first)
    try:
        await _route_each(user, "qa", 3)
        connections = await _clients_of(redis_url, name)
        assert connections >= 1
        for price in (0.0003, 0.00035):
            path.write_text(_config_text("gpt-3.5-turbo-0125", cheap_price=price), encoding="utf-8")
            assert await reloader.reload() is True
            assert user.router.state.store is store
            assert await _route_each(user, "qa", 3) == [ResultStatus.OK] * 3
        await reloader.aclose()
        # Closing the replaced routers left the store open for the current one.
        assert await _route_each(user, "qa", 3) == [ResultStatus.OK] * 3
        assert await _clients_of(redis_url, name) == connections
    finally:
        await reloader.aclose()
        await reloader.router.aclose()
    assert await _clients_of(redis_url, name) == 0

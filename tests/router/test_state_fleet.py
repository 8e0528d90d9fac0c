"""Three router replicas sharing one real redis-server, calling the provider simulator over
real HTTP: rate limits, budgets and cooldowns hold for the fleet, not for each replica.

Each replica is a RoutingEngine with its own store connection, as a separate process has; the
simulator's own counters say what the provider saw."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from llmrouter.router import RoutingEngine
from llmrouter.router.config import RouterConfig
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.router.state import StateStore
from llmrouter.router.state.wiring import open_state
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, token_cost_usd
from llmrouter.simulator import SimConfig, running
from tests.factories import CATALOG, catalog, routing_config, static_route
from tests.kafka_helpers import free_port

HAIKU = CATALOG["cheap"]["model_id"]


@dataclass
class Fleet:
    sim_url: str
    routers: list[RoutingEngine]

    async def calls(self, model_id: str = HAIKU, outcome: str | None = None) -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.sim_url}/_sim/stats") as resp,
        ):
            stats: dict[str, Any] = await resp.json()
        counts = stats["models"].get(model_id, {})
        return int(sum(counts.values()) if outcome is None else counts.get(outcome, 0))


MakeFleet = Callable[..., Any]


@pytest.fixture
async def make_fleet(redis_url: str) -> AsyncIterator[MakeFleet]:
    """`await make_fleet(config_yaml, latency_ms=..., window_s=..., prefix=...)`."""
    stacks: list[tuple[list[RoutingEngine], Any]] = []

    async def make(
        text: str, *, latency_ms: float = 0, window_s: float = 60.0, prefix: str | None = None
    ) -> Fleet:
        cfg: RouterConfig = parse_config(text)
        sim = running(SimConfig(latency_ms=latency_ms, seed=7))
        url = await sim.__aenter__()
        prefix = prefix or f"fleet-{uuid.uuid4().hex[:10]}"
        routers = [
            RoutingEngine(
                cfg,
                pool=ProviderPool(cfg.models, simulator_url=url),
                state=open_state(
                    cfg, store=StateStore.connect(redis_url, prefix=prefix), window_s=window_s
                ),
            )
            for _ in range(3)
        ]
        stacks.append((routers, sim))
        return Fleet(url, routers)

    yield make
    for routers, sim in stacks:
        for router in routers:
            await router.aclose()
        await sim.__aexit__(None, None, None)


def request(task: str, text: str) -> LLMRequest:
    return LLMRequest(request_id=uuid.uuid4().hex, task=task, input=text)


RATE_CONFIG = routing_config(
    # realtime requests queue for the model as long as it takes: the test measures the rate
    defaults={"cache": {"enabled": False}, "timeout_s": 60, "realtime_queue_s": None},
    models=catalog("cheap", cheap={"rpm": 60}),
    tasks={"qa": static_route("cheap")},
)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_three_replicas_share_one_rpm(make_fleet: MakeFleet) -> None:
    # rpm 60 over a 6 s window stands for rpm 600 over a minute, ten times faster
    # (bench/scale_out_rpm.py runs the full minute). 20 requests/s are offered for 9 s:
    # twice what the limit lets through.
    fleet: Fleet = await make_fleet(RATE_CONFIG, latency_ms=20, window_s=6.0)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    # Each sample is (asked, answered, count): the count was true at some moment between the
    # two, so a pair spans at most from the earlier's asking to the later's answer. Windows
    # measured that way can only be longer than the real ones, never shorter, however late
    # a loaded machine reads the counter.
    samples: list[tuple[float, float, int]] = []

    async def sample() -> None:
        while not done.is_set():
            asked = loop.time()
            count = await fleet.calls()
            samples.append((asked, loop.time(), count))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    tasks = []
    for i in range(180):
        router = fleet.routers[i % 3]
        tasks.append(asyncio.create_task(router.route(request("qa", f"question {i}"))))
        await asyncio.sleep(0.05)
    results = [routed.result for routed in await asyncio.gather(*tasks)]
    done.set()
    await sampler
    asked = loop.time()
    count = await fleet.calls()
    samples.append((asked, loop.time(), count))
    assert all(r.status is ResultStatus.OK for r in results)  # every request answered
    assert samples[-1][2] == 180
    worst = max(
        later - earlier
        for asked0, _, earlier in samples
        for asked1, answered1, later in samples
        if asked1 >= asked0 and answered1 - asked0 <= 6.0
    )
    assert worst <= 63, f"{worst} calls within one 6 s window"


BUDGET_CONFIG = routing_config(
    defaults={"cache": {"enabled": False}, "max_output_tokens": 200},
    models=catalog("cheap", "big"),
    tasks={"qa": static_route("big", budget={"daily_usd": 0.05, "downgrade_to": "cheap"})},
)


async def test_three_replicas_share_one_budget_across_restarts(make_fleet: MakeFleet) -> None:
    prefix = f"budget-{uuid.uuid4().hex[:10]}"
    fleet: Fleet = await make_fleet(BUDGET_CONFIG, latency_ms=50, prefix=prefix)
    in_flight_per_replica = 4
    gates = [asyncio.Semaphore(in_flight_per_replica) for _ in fleet.routers]

    async def one(i: int) -> LLMResult:
        async with gates[i % 3]:
            return (await fleet.routers[i % 3].route(request("qa", f"question number {i}"))).result

    results = await asyncio.gather(*(one(i) for i in range(120)))
    on_budget = [r for r in results if not r.budget_exceeded]
    downgraded = [r for r in results if r.budget_exceeded]
    assert downgraded, "the budget was never reached"
    assert all(r.model == "cheap" for r in downgraded)
    spent_before = sum((r.cost_usd for r in on_budget), Decimal(0))
    budget = Decimal("0.05")
    # A call's worst case: its prompt (estimated) and the whole output allowance.
    worst_call = token_cost_usd(100, 200, Decimal("0.01"), Decimal("0.03"))
    in_flight = 3 * in_flight_per_replica * worst_call
    # Over by at most the calls in flight; under by at most the same (their reservations
    # counted at worst case when the downgrade began, their real cost was lower).
    assert budget - in_flight <= spent_before <= budget + in_flight
    # "Restart" all three: new routers, new connections, the same store.
    restarted: Fleet = await make_fleet(BUDGET_CONFIG, prefix=prefix)
    after = (await restarted.routers[1].route(request("qa", "after the restart"))).result
    assert after.budget_exceeded
    assert after.model == "cheap"


COOLDOWN_CONFIG = routing_config(
    defaults={
        "cache": {"enabled": False},
        "retry": {"rate_limited": 0},
        "cooldown": {"failures": 2, "cooldown_s": 1},
    },
    models=catalog("cheap", "mid"),
    tasks={"qa": static_route("cheap", "mid")},
)


async def test_one_replicas_429s_stop_the_others_within_a_second(make_fleet: MakeFleet) -> None:
    fleet: Fleet = await make_fleet(COOLDOWN_CONFIG, latency_ms=5)
    a, b, c = fleet.routers
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    served: list[LLMResult] = []
    warmed = asyncio.Event()

    async def steady(router: RoutingEngine) -> None:  # the other replicas' normal traffic
        while not stop.is_set():
            served.append((await router.route(request("qa", "a normal question"))).result)
            if len(served) >= 10:
                warmed.set()
            await asyncio.sleep(0.02)

    traffic = [asyncio.create_task(steady(r)) for r in (b, c)]
    await asyncio.wait_for(warmed.wait(), 30)
    storm = "[[sim:fault=429@haiku]] [[sim:retry_after=30]] please"
    for _ in range(2):
        await a.route(request("qa", storm))
    opened_at = loop.time()
    # The others trust a "closed" answer for 0.2 s, so they notice within a fraction of a
    # second; three seconds leave a loaded machine room. Then three more, all well inside
    # the 30 s Retry-After, in which no replica may call the cooling model.
    await asyncio.sleep(3.0)
    ok_after_noticing = await fleet.calls(outcome="ok")
    await asyncio.sleep(3.0)
    ok_later = await fleet.calls(outcome="ok")
    stop.set()
    await asyncio.gather(*traffic)
    assert loop.time() - opened_at < 30.0  # both counts were read inside the Retry-After
    assert ok_later == ok_after_noticing, "another replica kept calling the cooling model"
    assert any(r.model == "mid" for r in served)  # they fell back meanwhile


async def test_a_router_keeps_answering_when_the_store_is_down(sim_url: str) -> None:
    cfg = parse_config(BUDGET_CONFIG)
    dead = StateStore.connect(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.3)
    router = RoutingEngine(
        cfg,
        pool=ProviderPool(cfg.models, simulator_url=sim_url),
        state=open_state(cfg, store=dead),
    )
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = [(await router.route(request("qa", f"question {i}"))).result for i in range(5)]
        assert all(r.status is ResultStatus.OK for r in results)
        assert loop.time() - started < 5.0  # one timeout, then per-process fallbacks
        claim = await router.state.dedupe.claim("r1", "t:0:1", wait_s=1)
        await claim.store(b"x")  # type: ignore[union-attr]
    finally:
        await router.aclose()

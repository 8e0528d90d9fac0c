"""A task's daily budget shared by three router processes on the real broker and a real
redis-server: the fleet downgrades once the day's spend is reached, overshooting it by at
most the worst case of the calls in flight; restarted processes find the budget spent,
also when the store has forgotten the day (rebuilt from `llm.costs`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmrouter.producers import RequestProducer
from llmrouter.router.budget import to_micro_usd
from llmrouter.router.providers.usage import estimate_tokens
from llmrouter.router.state import StateStore
from llmrouter.schemas import (
    COSTS_TOPIC,
    CostEvent,
    LLMResult,
    ResultStatus,
    loads,
    results_topic,
    token_cost_usd,
)
from llmrouter.simulator import SimConfig, running
from tests.factories import CATALOG, catalog, routing_config, static_route
from tests.workers.conftest import read_topic
from tests.workers.fleet import Fleet, MakeFleet, make_fleet  # noqa: F401
from tests.workers.test_crash import Collector

# The config's figures, for the bound: `big`'s prices, the output allowance, the budget.
BUDGET_USD = Decimal("0.05")
MAX_OUTPUT_TOKENS = 200
BIG_INPUT_USD_PER_1K = Decimal(str(CATALOG["big"]["input_usd_per_1k"]))
BIG_OUTPUT_USD_PER_1K = Decimal(str(CATALOG["big"]["output_usd_per_1k"]))
IN_FLIGHT_PER_ROUTER = 2  # LLMROUTER_MAX_IN_FLIGHT: requests one router handles at once
ROUTERS = 3


def fleet_config(**changes: dict[str, object]) -> str:
    """`make_fleet`'s template (its `{qa}` becomes the test's own task), `changes` to models."""
    return routing_config(
        # calls queue for `big`'s slots as long as it takes: no realtime bound on the wait
        defaults={
            "cache": {"enabled": False},
            "max_output_tokens": MAX_OUTPUT_TOKENS,
            "realtime_queue_s": None,
        },
        models=catalog("cheap", "big", **changes),
        tasks={
            "{qa}": static_route(
                "big", budget={"daily_usd": float(BUDGET_USD), "downgrade_to": "cheap"}
            )
        },
    )


CONFIG = fleet_config()


@pytest.fixture
async def own_sim() -> AsyncIterator[str]:
    async with running(SimConfig(latency_ms=100, seed=5)) as url:
        yield url


def question(i: int) -> str:
    return f"question number {i:04d}"


def worst_case_call_usd(text: str) -> Decimal:
    """What a call to `big` reserves (router/calls.py): the prompt estimated, the whole
    output allowance at the output price."""
    return token_cost_usd(
        estimate_tokens(text), MAX_OUTPUT_TOKENS, BIG_INPUT_USD_PER_1K, BIG_OUTPUT_USD_PER_1K
    )


def routed_by(fleet: Fleet, name: str) -> set[str]:
    """request_ids process `name` logged as routed."""
    ids = set()
    for line in fleet.log_of(name).read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = loads(line)
        if entry.get("event") == "routed":
            ids.add(entry["request_id"])
    return ids


async def start_routers(
    fleet: Fleet, names: list[str], in_flight: int = IN_FLIGHT_PER_ROUTER
) -> None:
    for name in names:
        await fleet.spawn(name, "router", LLMROUTER_MAX_IN_FLIGHT=str(in_flight))
    await fleet.settled(routers=len(names))


async def stop_routers(fleet: Fleet, names: list[str]) -> None:
    for name in names:
        assert await fleet.stop(name) == 0, fleet.tails()


async def publish(fleet: Fleet, seen: Collector, numbers: range) -> list[LLMResult]:
    """Publish one request per number and wait for their results."""
    task = fleet.tasks["qa"]
    async with RequestProducer.from_env(fleet.bootstrap) as producer:
        ids = {await producer.submit(task, question(i)) for i in numbers}
    try:
        await seen.wait_for(lambda rs: ids <= {r.request_id for r in rs}, timeout_s=90)
    except TimeoutError:
        raise AssertionError(f"not every request was answered\n{fleet.tails()}") from None
    return [r for r in seen.results if r.request_id in ids]


async def task_costs(fleet: Fleet, results: list[LLMResult]) -> list[CostEvent]:
    """The task's committed cost events, once there is one for every attempt made."""
    task = fleet.tasks["qa"]
    attempts = sum(len(r.attempts) for r in results)
    events = await read_topic(
        fleet.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: sum(e.task == task for e in evs) >= attempts,
    )
    mine = [e for e in events if e.task == task]
    assert len(mine) == attempts  # one cost event per provider call, none twice
    return mine


def spent_on(events: list[CostEvent], model: str) -> Decimal:
    return sum((e.cost_usd for e in events if e.model == model), Decimal(0))


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_three_router_processes_share_one_budget_across_restarts(
    make_fleet: MakeFleet,  # noqa: F811
    own_sim: str,
    redis_url: str,
) -> None:
    now = datetime.now(UTC)
    if (now.replace(hour=23, minute=55, second=0) - now).total_seconds() < 0:
        pytest.skip("the day's budget would roll over at UTC midnight during the test")
    fleet = await make_fleet(CONFIG, tasks=("qa",), sim_url=own_sim, redis_url=redis_url)
    await fleet.spawn("classifier", "classifier")
    first = ["r1", "r2", "r3"]
    await start_routers(fleet, first)
    async with Collector(fleet.bootstrap, [results_topic(fleet.tasks["qa"])]) as seen:
        # 1. Enough requests to pass the budget several times over: up to six at once.
        results = await publish(fleet, seen, range(150))
        # The last ones may have been downgraded on calls still held at their worst case;
        # one request at a time, the counter is the real spend: on until it is spent.
        alone: list[LLMResult] = []
        while not alone or not alone[0].budget_exceeded:
            assert len(results) < 200, "the fleet kept calling `big`"
            alone = await publish(fleet, seen, range(len(results), len(results) + 1))
            results += alone
        assert all(r.status is ResultStatus.OK for r in results)
        events = await task_costs(fleet, results)
        spent_usd = sum((e.cost_usd for e in events), Decimal(0))
        big_usd = spent_on(events, "big")
        assert spent_usd >= BUDGET_USD  # the task's spend, both models: the budget is spent
        worst_usd = max(worst_case_call_usd(question(i)) for i in range(len(results)))
        in_flight = ROUTERS * IN_FLIGHT_PER_ROUTER  # each request makes one call to `big`
        # Every call to `big` was decided while the task's counter (its settled spend plus
        # every call in flight at its worst case) was under the budget: the spend on `big`
        # passes it by at most the calls in flight at the last such decision.
        assert big_usd <= BUDGET_USD + in_flight * worst_usd, (big_usd, in_flight * worst_usd)
        downgraded = {r.request_id for r in results if r.budget_exceeded}
        assert all(r.model == "cheap" for r in results if r.budget_exceeded)
        assert all(r.model == "big" for r in results if not r.budget_exceeded)
        for name in first:  # every replica downgraded, not just one
            assert routed_by(fleet, name) & downgraded, f"{name} never downgraded"

        # 2. SIGTERM all three, start three new ones: the budget is still spent.
        await stop_routers(fleet, first)
        second = ["r4", "r5", "r6"]
        await start_routers(fleet, second)
        later = await publish(fleet, seen, range(1000, 1030))
        assert all(r.budget_exceeded and r.model == "cheap" for r in later)
        for name in second:
            assert routed_by(fleet, name), f"{name} routed nothing"
        events = await task_costs(fleet, results + later)
        assert spent_on(events, "big") == big_usd  # no new call to `big`

        # 3. The store forgets the day's counter; the restarted fleet rebuilds it from
        # the committed cost events and still finds the budget spent.
        await stop_routers(fleet, second)
        store = StateStore.connect(redis_url, prefix=f"llmrouter:{fleet.group_prefix.rstrip('-')}")
        try:
            keys = [k async for k in store.client.scan_iter(store.key("budget", "*"))]
            assert len(keys) == 2, keys  # the day's counter and its "rebuilt" marker
            await store.client.delete(*keys)
            third = ["r7", "r8", "r9"]
            await start_routers(fleet, third)
            last = await publish(fleet, seen, range(2000, 2030))
            assert all(r.budget_exceeded and r.model == "cheap" for r in last)
            for name in third:
                assert routed_by(fleet, name), f"{name} routed nothing"
            events = await task_costs(fleet, results + later + last)
            assert spent_on(events, "big") == big_usd
            counters = [k async for k in store.client.scan_iter(store.key("budget", "*"))]
            counter = next(k for k in counters if not bytes(k).endswith(b":rebuilt"))
            # Rebuilt from llm.costs, then charged with the calls made since.
            assert int(await store.client.get(counter)) == sum(
                to_micro_usd(e.cost_usd) for e in events
            )
        finally:
            await store.aclose()


SLOTS = 2  # `big`'s max_concurrency, for the whole fleet through the store


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_calls_queued_for_the_budgeted_model_overshoot_by_its_slots_only(
    make_fleet: MakeFleet,  # noqa: F811
    own_sim: str,
    redis_url: str,
) -> None:
    # Routers that take many requests at once decide on `big` for all of them before the
    # budget moves; its two slots let them through a few at a time. Each call looks at the
    # spend again once it has a slot, so the overshoot is that of the two calls in flight.
    limited = fleet_config(big={"max_concurrency": SLOTS})
    fleet = await make_fleet(limited, tasks=("qa",), sim_url=own_sim, redis_url=redis_url)
    await fleet.spawn("classifier", "classifier")
    await start_routers(fleet, ["r1", "r2", "r3"], in_flight=64)
    async with Collector(fleet.bootstrap, [results_topic(fleet.tasks["qa"])]) as seen:
        results = await publish(fleet, seen, range(150))
        assert all(r.status is ResultStatus.OK for r in results)
        events = await task_costs(fleet, results)
    worst_usd = max(worst_case_call_usd(question(i)) for i in range(150))
    big_usd = spent_on(events, "big")
    assert big_usd <= BUDGET_USD + SLOTS * worst_usd, (big_usd, SLOTS * worst_usd)
    downgraded = [r for r in results if r.budget_exceeded]
    assert downgraded
    assert all([a.model for a in r.attempts] == ["cheap"] for r in downgraded)

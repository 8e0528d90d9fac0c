"""A model's cooldown shared by three router processes on the real broker and a real
redis-server: one replica's 429s (Retry-After 8 s) stop the other two calling that model
within a second (the test allows three), for the Retry-After, and one probe reopens it for
the fleet.

Replica A calls simulator 2, replicas B and C simulator 1; each simulator runs in this
process and stamps every call it serves, so what B and C sent is what simulator 1 saw."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from llmrouter.producers import RequestProducer
from llmrouter.schemas import ResultStatus, results_topic
from llmrouter.simulator import SimConfig, running
from llmrouter.simulator.app import create_app, engine_of
from llmrouter.simulator.journal import CallJournal
from tests.factories import CATALOG, catalog, routing_config, static_route
from tests.workers.fleet import Fleet, MakeFleet, make_fleet  # noqa: F401
from tests.workers.test_crash import Collector

HAIKU = CATALOG["cheap"]["model_id"]
GPT35 = CATALOG["mid"]["model_id"]
FAILURES = 2  # cooldown.failures: the second 429 in a row opens A's breaker
RETRY_AFTER_S = 8.0
# B and C trust a "closed" answer for 0.2 s, so they stop within a fraction of a second;
# the test allows them three, room for a loaded machine, and 5 s more of Retry-After in
# which any call to `cheap` fails it.
NOTICED_WITHIN_S = 3.0
LATENCY_MS = 100  # every simulated call; the probe's answer takes at least this long

# `make_fleet` formats `{qa}` with the test's own task name.
CONFIG = routing_config(
    defaults={
        "cache": {"enabled": False},
        "retry": {"rate_limited": 0, "base_delay_s": 0.01, "max_delay_s": 0.05},
        "cooldown": {"failures": FAILURES, "cooldown_s": 1},
    },
    models=catalog("cheap", "mid"),
    tasks={"{qa}": static_route("cheap", "mid")},
)


@dataclass
class Sim:
    url: str
    journal: CallJournal

    def starts(self, model_id: str, outcome: str | None = None) -> list[float]:
        """When each call to `model_id` (with `outcome`, if given) reached the simulator."""
        return [
            c.started_at
            for c in self.journal.calls()
            if c.model == model_id and outcome in (None, c.outcome)
        ]

    async def until(self, model_id: str, outcome: str, count: int, timeout_s: float) -> None:
        await self.journal.wait_until(
            lambda calls: sum(c.model == model_id and c.outcome == outcome for c in calls) >= count,
            timeout_s,
        )

    async def set_model(self, model_id: str, **profile: float) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.url}/_sim/models/{model_id}", json=profile) as resp,
        ):
            assert resp.status == 200, await resp.text()


@contextlib.asynccontextmanager
async def journaled_sim(seed: int) -> AsyncIterator[Sim]:
    app = create_app(SimConfig(latency_ms=LATENCY_MS, seed=seed))
    async with running(app=app) as url:
        yield Sim(url, engine_of(app).journal)


async def steady_traffic(fleet: Fleet, ids: list[str], stop: asyncio.Event) -> None:
    """20 requests a second, keyed by request_id: spread over every partition, so over
    every replica."""
    task = fleet.tasks["qa"]
    async with RequestProducer.from_env(fleet.bootstrap) as producer:
        while not stop.is_set():
            ids.append(await producer.submit(task, f"a normal question {len(ids)}"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_one_replicas_429s_stop_the_other_processes_within_a_second(
    make_fleet: MakeFleet,  # noqa: F811
    redis_url: str,
) -> None:
    async with journaled_sim(1) as sim1, journaled_sim(2) as sim2:
        fleet = await make_fleet(CONFIG, tasks=("qa",), sim_url=sim1.url, redis_url=redis_url)
        await fleet.spawn("classifier", "classifier")
        await fleet.spawn("a", "router", LLMROUTER_SIMULATOR_URL=sim2.url)
        await fleet.spawn("b", "router")
        await fleet.spawn("c", "router")
        await fleet.settled(routers=3)
        ids: list[str] = []
        stop = asyncio.Event()
        async with Collector(fleet.bootstrap, [results_topic(fleet.tasks["qa"])]) as seen:
            traffic = asyncio.create_task(steady_traffic(fleet, ids, stop))
            try:
                # Every replica answers with `cheap` before the storm.
                await sim1.until(HAIKU, "ok", 10, 60)
                await sim2.until(HAIKU, "ok", 5, 60)
                await sim2.set_model(HAIKU, rate_429=1.0, retry_after_s=RETRY_AFTER_S)
                await sim2.until(HAIKU, "429", FAILURES, 30)
                opened_at = sim2.starts(HAIKU, "429")[FAILURES - 1]
                # Simulator 2 answers again before the cooldown ends, so the probe succeeds
                # whichever replica makes it.
                await asyncio.sleep(opened_at + RETRY_AFTER_S - 2.0 - time.monotonic())
                await sim2.set_model(HAIKU, rate_429=0.0)
                # B and C call `cheap` again once the probe's answer closed the breaker.
                await sim1.journal.wait_until(
                    lambda calls: any(
                        c.model == HAIKU and c.started_at > opened_at + RETRY_AFTER_S for c in calls
                    ),
                    30,
                )
            finally:
                stop.set()
                await traffic
            try:
                await seen.wait_for(lambda rs: set(ids) <= {r.request_id for r in rs}, 90)
            except TimeoutError:
                raise AssertionError(f"not every request was answered\n{fleet.tails()}") from None
            results = [r for r in seen.results if r.request_id in set(ids)]

    cheap_calls = sorted([*sim1.starts(HAIKU), *sim2.starts(HAIKU)])  # by any replica
    # From A's second 429 the fleet makes no call to `cheap` for the Retry-After: the
    # first one after the seconds it may take to notice comes after the 8 s (the provider's
    # Retry-After, not cooldown_s), so B and C stopped within those seconds.
    first_after = min(t for t in cheap_calls if t > opened_at + NOTICED_WITHIN_S)
    timeline = sorted(  # for the assertions' messages: seconds after opening, by whom
        (round(t - opened_at, 3), name)
        for name, sim in (("B/C", sim1), ("A", sim2))
        for t in sim.starts(HAIKU)
        if -0.2 < t - opened_at < RETRY_AFTER_S + 1
    )
    assert first_after >= opened_at + RETRY_AFTER_S - 0.1, timeline
    # Meanwhile B and C answered with the fallback.
    assert any(opened_at < t < first_after for t in sim1.starts(GPT35, "ok"))
    # One probe for the fleet: nothing else reached `cheap` while its answer was pending.
    pending = [t for t in cheap_calls if first_after <= t < first_after + LATENCY_MS / 1000]
    assert len(pending) == 1, timeline
    assert all(r.status is ResultStatus.OK for r in results)
    assert len({r.request_id for r in results}) == len(ids)
    assert any(r.fallback_used for r in results)

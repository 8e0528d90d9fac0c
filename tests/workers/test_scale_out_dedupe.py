"""request_id as an idempotency key across router replicas, on the real broker and a real
redis-server: duplicates are answered from the first result, never by the provider."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from llmrouter.producers import RequestProducer
from llmrouter.schemas import COSTS_TOPIC, CostEvent, LLMResult, results_topic
from llmrouter.simulator import SimConfig, running
from tests.workers.conftest import Pipeline, read_topic
from tests.workers.test_crash import Collector, router_process, spawn_router

MakePipeline = Callable[..., Awaitable[Pipeline]]

REQUESTS = 200
IN_FLIGHT_AGAIN = 25  # published again at once: the first is still being answered
LATER_AGAIN = 25  # published again once the first was answered
MAX_IN_FLIGHT = 32  # of the router process the SIGKILL test kills (tests/workers/test_crash.py)


@pytest.fixture
async def own_sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A simulator of this test's own, so its call counts are this test's calls."""
    async with running(SimConfig(latency_ms=150, seed=11)) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        yield url


async def provider_calls(sim_url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/stats") as resp:
        stats: dict[str, Any] = await resp.json()
    return int(stats["requests"])


async def publish_with_duplicates(p: Pipeline, seen: Collector) -> tuple[list[str], list[str]]:
    """200 requests; 25 of them again at once, 25 more again after their answer."""
    task = p.tasks["summ"]
    async with RequestProducer.from_env(p.bootstrap) as producer:
        ids = [await producer.submit(task, f"summary {i}") for i in range(REQUESTS)]
        again = ids[:IN_FLIGHT_AGAIN]
        for i, rid in enumerate(again):
            await producer.submit(task, f"summary {i}", request_id=rid)
        later = ids[100 : 100 + LATER_AGAIN]
        await seen.wait_for(lambda rs: set(later) <= {r.request_id for r in rs}, timeout_s=90)
        for rid in later:
            await producer.submit(task, f"summary {ids.index(rid)}", request_id=rid)
    return ids, again + later


async def settled(p: Pipeline, replicas: int, timeout_s: float = 60.0) -> None:
    """Until every router replica owns partitions and all of them are owned: a rebalance
    during the test would cancel calls in flight, which are then made again."""
    async with asyncio.timeout(timeout_s):
        while True:
            routers = [
                c.worker for h in p.health for c in h.checks if c.worker.options.name == "router"
            ]
            owned = [len(w.assigned) for w in routers]
            if len(owned) == replicas and min(owned) > 0 and sum(owned) == 3 * len(p.tasks):
                return
            await asyncio.sleep(0.1)


async def check(
    p: Pipeline,
    sim_url: str,
    ids: list[str],
    repeated: list[str],
    *,
    drop: bool = False,
    lost_in_flight: int = 0,
) -> None:
    task = p.tasks["summ"]
    expected = REQUESTS + (0 if drop else len(repeated))
    results = await read_topic(
        p.bootstrap, [results_topic(task)], LLMResult, until=lambda rs: len(rs) >= expected
    )
    firsts = [r for r in results if not r.duplicate]
    copies = [r for r in results if r.duplicate]
    assert Counter(r.request_id for r in firsts) == Counter(ids)  # one answer per request
    if drop:
        assert copies == []
    else:
        assert sorted(r.request_id for r in copies) == sorted(repeated)
        by_id = {r.request_id: r for r in firsts}
        for copy in copies:
            assert copy.output == by_id[copy.request_id].output
    attempts = sum(len(r.attempts) for r in firsts)
    # No call for any duplicate; a SIGKILL loses the answers of the calls it interrupted.
    calls = await provider_calls(sim_url)
    assert attempts <= calls <= attempts + lost_in_flight
    events = await read_topic(
        p.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: sum(e.task == task for e in evs) >= attempts,
    )
    mine = Counter((e.request_id, e.attempt) for e in events if e.task == task)
    assert sum(mine.values()) == attempts  # no cost event for any duplicate
    assert max(mine.values()) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("duplicates", ["republish", "drop"])
async def test_duplicates_across_replicas_reuse_the_first_answer(
    pipeline: MakePipeline,
    own_sim: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    duplicates: str,
) -> None:
    monkeypatch.setenv("LLMROUTER_REDIS_URL", redis_url)
    p = await pipeline()
    defaults = p.config.defaults.model_copy(update={"duplicates": duplicates})
    p.config = p.config.model_copy(update={"defaults": defaults})
    await p.start(kinds=["classifier", "router"], instance_id=f"{p.group_prefix}a")
    await p.start(kinds=["router"], instance_id=f"{p.group_prefix}b")
    await p.start(kinds=["router"], instance_id=f"{p.group_prefix}c")
    await settled(p, replicas=3)
    async with Collector(p.bootstrap, [results_topic(p.tasks["summ"])]) as seen:
        ids, repeated = await publish_with_duplicates(p, seen)
    await check(p, own_sim, ids, repeated, drop=duplicates == "drop")


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_duplicates_survive_a_sigkilled_router(
    pipeline: MakePipeline, own_sim: str, redis_url: str, tmp_path: Path
) -> None:
    p = await pipeline()
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(p.config_text)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
        "LLMROUTER_SIMULATOR_URL": own_sim,
        "LLMROUTER_REDIS_URL": redis_url,
        "LLMROUTER_GROUP_PREFIX": p.group_prefix,
        "LLMROUTER_TASKS_PATTERN": f".*-{p.suffix}",
        "LLMROUTER_SESSION_TIMEOUT_MS": "6000",
        "LLMROUTER_METRICS_PORT": "-1",
    }
    await p.start(kinds=["classifier"])
    log = tmp_path / "router.log"
    async with (
        Collector(p.bootstrap, [results_topic(p.tasks["summ"])]) as seen,
        router_process(config_file, env) as procs,
    ):
        procs.append(await spawn_router(config_file, env, log))
        killer = asyncio.create_task(_kill_once(seen, procs, config_file, env, log))
        ids, repeated = await publish_with_duplicates(p, seen)
        await killer
        await seen.wait_for(lambda rs: len(rs) >= REQUESTS + len(repeated), timeout_s=120)
    await check(p, own_sim, ids, repeated, lost_in_flight=MAX_IN_FLIGHT)


async def _kill_once(
    seen: Collector,
    procs: list[asyncio.subprocess.Process],
    config_file: Path,
    env: dict[str, str],
    log: Path,
) -> None:
    await seen.wait_for(lambda rs: len(rs) >= 60, timeout_s=90)
    procs[-1].send_signal(signal.SIGKILL)
    await procs[-1].wait()
    procs.append(await spawn_router(config_file, env, log))

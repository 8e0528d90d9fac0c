"""request_id as an idempotency key across router replicas, on the real broker and a real
redis-server: duplicates are answered from the first result, never by the provider."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from llmrouter.producers import RequestProducer
from llmrouter.router.paths import direct_tasks
from llmrouter.schemas import COSTS_TOPIC, CostEvent, LLMResult, results_topic
from llmrouter.simulator import SimConfig, create_app, engine_of, running
from llmrouter.simulator.journal import CallJournal
from tests.workers.conftest import Pipeline, read_topic
from tests.workers.test_crash import Collector, router_process, spawn_router

MakePipeline = Callable[..., Awaitable[Pipeline]]

REQUESTS = 200
IN_FLIGHT_AGAIN = 25  # published again at once: the first is still being answered
LATER_AGAIN = 25  # published again once the first was answered
MAX_IN_FLIGHT = 32  # of the router process the SIGKILL test kills (tests/workers/test_crash.py)
KILL_IN_FLIGHT = 8  # the SIGKILL comes while at least this many calls are in flight


@dataclass(frozen=True)
class OwnSim:
    url: str
    journal: CallJournal  # the in-process simulator's, on this test's clock


@pytest.fixture
async def own_sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OwnSim]:
    """A simulator of this test's own, so its calls are this test's calls."""
    app = create_app(SimConfig(latency_ms=150, seed=11))
    async with running(app=app) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        yield OwnSim(url, engine_of(app).journal)


async def provider_calls(sim_url: str) -> tuple[int, list[dict[str, Any]]]:
    """The simulator's count of calls, and its journal of them (oldest first)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim_url}/_sim/stats") as resp:
            stats: dict[str, Any] = await resp.json()
        async with http.get(f"{sim_url}/_sim/calls") as resp:
            journal: dict[str, Any] = await resp.json()
    assert journal["total"] == len(journal["calls"]) == stats["requests"]  # none forgotten
    return int(stats["requests"]), list(journal["calls"])


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
            # every task's classified topic, and the requests of those that skip the
            # classifier (router/paths.py)
            topics = len(p.tasks) + len(direct_tasks(p.config))
            if len(owned) == replicas and min(owned) > 0 and sum(owned) == 3 * topics:
                return
            await asyncio.sleep(0.1)


# A call answered this shortly before the SIGKILL may not have had its result stored yet:
# between the provider's answer and the stored result lie only the router's own
# book-keeping (the SDK's parse, the shared limiter and budget updates, the store script:
# a few redis round trips of about a millisecond each). 1 s covers that on a loaded
# two-core machine; a call answered earlier had its result stored, so it is not made again.
STORE_AFTER_ANSWER_S = 1.0
# A request the killed process sent just before the SIGKILL can still be read and begun by
# the simulator (this test's own event loop) just after it: it left the process in time,
# its answer did not. The next owner's calls come far later: it gets the partitions only
# once the dead member's session (6 s) has expired.
READ_AFTER_SEND_S = 1.0
# The killed router's session; its claims on request ids are leased for as long.
SESSION_S = 6.0
# The next owner makes the lost calls again among its first few rounds of calls (about
# 0.6 s after its first on a quiet machine), or as soon as the dead owner's claims run out:
# they are leased for a session from their last renewal, while the session counts from the
# last heartbeat, so the partitions can move up to a renewal interval (a third of the lease)
# before the claims end. A lease well beyond the session (say 20 s with these 6 s
# sessions) holds the lost calls back past this bound.
REPEAT_AFTER_RESUME_S = 3.0


def lost_and_repeated(
    calls: list[dict[str, Any]], killed_at: float | None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(lost call, its repeat) for every prompt the provider saw twice on one model; fails
    unless each lost call was in flight at the kill and was made again exactly once."""
    by_prompt: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        by_prompt[(call["model"], call["prompt_hash"])].append(call)
    pairs = []
    for key, seen in by_prompt.items():
        if len(seen) == 1:
            continue
        assert killed_at is not None, f"{key} was called {len(seen)} times without a crash"
        assert len(seen) == 2, f"{key} was called {len(seen)} times"
        lost, again = sorted(seen, key=lambda c: c["started_at"])
        # made by the killed process, and not answered until (shortly before) the kill
        assert lost["started_at"] < killed_at + READ_AFTER_SEND_S, (key, lost, killed_at)
        ended = lost["ended_at"]
        assert ended is None or ended > killed_at - STORE_AFTER_ANSWER_S, (key, lost, killed_at)
        # made again by the next owner
        assert again["started_at"] > killed_at + READ_AFTER_SEND_S, (key, again, killed_at)
        pairs.append((lost, again))
    if killed_at is not None:  # and every call whose answer died with the process is there
        in_flight = [
            c
            for c in calls
            if c["started_at"] < killed_at + READ_AFTER_SEND_S
            and (c["ended_at"] is None or c["ended_at"] > killed_at)
        ]
        assert len(in_flight) >= KILL_IN_FLIGHT
        assert {id(c) for c in in_flight} <= {id(lost) for lost, _ in pairs}
        resumed_at = min(
            c["started_at"] for c in calls if c["started_at"] > killed_at + READ_AFTER_SEND_S
        )
        claims_end = max(resumed_at, killed_at + SESSION_S)
        for _, again in pairs:
            assert again["started_at"] < claims_end + REPEAT_AFTER_RESUME_S, (again, resumed_at)
    return pairs


async def check(
    p: Pipeline,
    sim_url: str,
    ids: list[str],
    repeated: list[str],
    *,
    drop: bool = False,
    killed_at: float | None = None,
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
    attempts = [a for r in firsts for a in r.attempts]
    # No call for any duplicate. A SIGKILL loses the answers of the calls in flight: each
    # of those, and nothing else, is made once more by the next owner.
    calls, journal = await provider_calls(sim_url)
    lost = lost_and_repeated(journal, killed_at)
    assert calls == len(attempts) + len(lost)
    assert len(lost) <= MAX_IN_FLIGHT  # at most the killed process's calls in flight
    assert len({c["prompt_hash"] for c in journal}) == REQUESTS  # one prompt per request
    lost_ids = {id(call) for call, _ in lost}
    answered = Counter(c["model"] for c in journal if id(c) not in lost_ids)
    assert answered == Counter(a.model_version for a in attempts)  # one call per attempt
    events = await read_topic(
        p.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: sum(e.task == task for e in evs) >= len(attempts),
    )
    mine = Counter((e.request_id, e.attempt) for e in events if e.task == task)
    assert sum(mine.values()) == len(attempts)  # no cost event for any duplicate
    assert mine == Counter((r.request_id, i) for r in firsts for i in range(len(r.attempts)))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("duplicates", ["republish", "drop"])
async def test_duplicates_across_replicas_reuse_the_first_answer(
    pipeline: MakePipeline,
    own_sim: OwnSim,
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
    await check(p, own_sim.url, ids, repeated, drop=duplicates == "drop")


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_duplicates_survive_a_sigkilled_router(
    pipeline: MakePipeline, own_sim: OwnSim, redis_url: str, tmp_path: Path
) -> None:
    p = await pipeline()
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(p.config_text)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
        "LLMROUTER_SIMULATOR_URL": own_sim.url,
        "LLMROUTER_REDIS_URL": redis_url,
        "LLMROUTER_GROUP_PREFIX": p.group_prefix,
        "LLMROUTER_TASKS_PATTERN": f".*-{p.suffix}",
        "LLMROUTER_SESSION_TIMEOUT_MS": str(int(SESSION_S * 1000)),
        "LLMROUTER_METRICS_PORT": "-1",
    }
    await p.start(kinds=["classifier"])
    log = tmp_path / "router.log"
    async with (
        Collector(p.bootstrap, [results_topic(p.tasks["summ"])]) as seen,
        router_process(config_file, env) as procs,
    ):
        procs.append(await spawn_router(config_file, env, log))
        killer = asyncio.create_task(
            _kill_once(
                seen, own_sim.journal, procs, spawn=lambda: spawn_router(config_file, env, log)
            )
        )
        ids, repeated = await publish_with_duplicates(p, seen)
        killed_at = await killer
        await seen.wait_for(lambda rs: len(rs) >= REQUESTS + len(repeated), timeout_s=120)
    await check(p, own_sim.url, ids, repeated, killed_at=killed_at)


async def _kill_once(
    seen: Collector,
    journal: CallJournal,
    procs: list[asyncio.subprocess.Process],
    spawn: Callable[[], Awaitable[asyncio.subprocess.Process]],
) -> float:
    """SIGKILL the router once 60 results are out, while calls are in flight, and start
    another; returns the instant of the kill (`time.monotonic()`, the simulator's clock)."""
    await seen.wait_for(lambda rs: len(rs) >= 60, timeout_s=90)
    await journal.wait_until(
        lambda calls: sum(c.ended_at is None for c in calls) >= KILL_IN_FLIGHT, timeout_s=30
    )
    killed_at = time.monotonic()
    procs[-1].send_signal(signal.SIGKILL)
    await procs[-1].wait()
    procs.append(await spawn())
    return killed_at

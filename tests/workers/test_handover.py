"""Handover safety: partitions move between router processes under continuous traffic —
new processes join, some leave gracefully, others are SIGKILLed and restarted — while
results finish out of order within each partition. read_committed readers still find
exactly one result per request and exactly one cost event per attempt.

What makes a duplicate likely without the protections: a partition handed over right
after its old owner's transactional commit (its offsets pending until the markers land),
and results published above the committed offset (the new owner must skip them)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmrouter.producers import RequestProducer
from llmrouter.schemas import COSTS_TOPIC, CostEvent, LLMResult, ResultStatus, results_topic
from tests.workers.conftest import Pipeline, read_topic
from tests.workers.test_crash import Collector, _covers

MakePipeline = Callable[..., Awaitable[Pipeline]]

RATE_PER_S = 60
REQUESTS = 3000
PARTITIONS = 6


@dataclass
class Routers:
    """Router worker processes by instance id; restarting an id fences its old self."""

    config: Path
    env: dict[str, str]
    log: Path
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    async def start(self, instance: str) -> None:
        with self.log.open("ab") as out:
            self.procs[instance] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "llmrouter",
                "worker",
                "router",
                "--config",
                str(self.config),
                "--instance-id",
                instance,
                "--log-level",
                "info",
                env=self.env,
                stdout=out,
                stderr=out,
            )
        self.events.append(f"start {instance}")

    async def kill(self, instance: str) -> None:
        proc = self.procs.pop(instance)
        assert proc.returncode is None, f"{instance} exited early: {self.log.read_text()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        self.events.append(f"kill {instance}")

    async def stop(self, instance: str) -> None:
        proc = self.procs.pop(instance)
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 45)
        except TimeoutError:  # recorded, and the worst case is a crash: still checked
            proc.kill()
            await proc.wait()
            self.events.append(f"stop {instance} did not finish in 45 s; killed")
            return
        self.events.append(f"stop {instance} rc={proc.returncode}")

    async def close(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _traffic(p: Pipeline, ids: list[str], done: asyncio.Event) -> None:
    """REQUESTS requests at RATE_PER_S a second, latencies 0–100 ms in random order (so
    results finish out of order within each partition)."""
    rng = random.Random(7)
    summ, mod = p.tasks["summ"], p.tasks["mod"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    tick_s = 0.1
    n = 0
    async with RequestProducer.from_env(p.bootstrap) as producer:
        while n < REQUESTS:
            batch = []
            for _ in range(int(RATE_PER_S * tick_s)):
                task, text = (summ, f"summary {n}") if n % 3 else (mod, f"unsure post {n}")
                latency = rng.choice((0, 5, 20, 50, 100))
                batch.append(producer.submit(task, f"{text} [[sim:latency_ms={latency}]]"))
                n += 1
            ids.extend(await asyncio.gather(*batch))
            await asyncio.sleep(max(0.0, started + n / RATE_PER_S - loop.time()))
    done.set()


async def _chaos(routers: Routers, traffic_done: asyncio.Event) -> None:
    """Joins, graceful leaves, SIGKILLs and restarts, every few seconds while traffic runs."""
    plan = [
        ("kill", "r0"),
        ("start", "r0"),
        ("start", "r2"),
        ("kill", "r1"),
        ("start", "r1"),
        ("stop", "r2"),
        ("kill", "r0"),
        ("start", "r0"),
        ("start", "r2"),
        ("kill", "r1"),
        ("start", "r1"),
    ]
    kills = 0
    for action, instance in plan:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(traffic_done.wait(), timeout=4.0)
        # On a slow machine traffic may end first: the results still in flight are
        # handed over too, so keep going until three processes have been killed.
        if traffic_done.is_set() and kills >= 3:
            return
        await getattr(routers, action)(instance)
        kills += action == "kill"


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_partitions_change_hands_without_duplicates_or_losses(
    pipeline: MakePipeline, sim_url: str, tmp_path: Path
) -> None:
    p = await pipeline(partitions=PARTITIONS)
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(p.config_text)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
        "LLMROUTER_SIMULATOR_URL": sim_url,
        "LLMROUTER_GROUP_PREFIX": p.group_prefix,
        "LLMROUTER_TASKS_PATTERN": f".*-{p.suffix}",
        "LLMROUTER_SESSION_TIMEOUT_MS": "10000",
        "LLMROUTER_METRICS_PORT": "-1",
        "LLMROUTER_GRACE_S": "5",
    }
    await p.start(kinds=["classifier"])
    summ, mod = p.tasks["summ"], p.tasks["mod"]
    topics = [results_topic(summ), results_topic(mod)]
    routers = Routers(config_file, env, tmp_path / "routers.log")
    ids: list[str] = []
    traffic_done = asyncio.Event()
    try:
        async with Collector(p.bootstrap, topics) as seen:
            await routers.start("r0")
            await routers.start("r1")
            await asyncio.gather(_traffic(p, ids, traffic_done), _chaos(routers, traffic_done))
            if not routers.procs:
                await routers.start("r0")
            try:
                await seen.wait_for(_covers(set(ids)), timeout_s=90)
            except TimeoutError:
                missing = len(set(ids) - {r.request_id for r in seen.results})
                log = routers.log.read_text(errors="replace")[-4000:]
                raise AssertionError(
                    f"{missing} results missing; {routers.events}\n{log}"
                ) from None
    finally:
        await routers.close()

    results = await read_topic(
        p.bootstrap, topics, LLMResult, until=lambda rs: set(ids) <= {r.request_id for r in rs}
    )
    counts = Counter(r.request_id for r in results)
    duplicated = [rid for rid, n in counts.items() if n > 1]
    assert not duplicated, f"{len(duplicated)} results published twice; {routers.events}"
    assert set(counts) == set(ids)
    assert all(r.status is ResultStatus.OK for r in results)
    attempts = {(r.request_id, i) for r in results for i in range(len(r.attempts))}
    events = await read_topic(
        p.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: sum(e.request_id in counts for e in evs) >= len(attempts),
    )
    keys = Counter((e.request_id, e.attempt) for e in events if e.request_id in counts)
    assert max(keys.values()) == 1, "a cost event was published twice"
    assert set(keys) == attempts
    assert len(ids) >= 3000, "the test must cover thousands of requests"
    assert sum(e.startswith("kill") for e in routers.events) >= 3, routers.events

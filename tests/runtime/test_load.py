"""Defaults that hold the load: a backlog of thousands of records never starves the event
loop (heartbeats keep the group membership), in-flight work stays within max_in_flight,
and every result arrives exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from llmrouter.producers import RequestProducer
from llmrouter.runtime.options import WorkerOptions
from llmrouter.schemas import LLMResult, results_topic
from llmrouter.workers.launch import WorkerSettings
from tests.workers.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]

BACKLOG = 2000
#: the runtime's defaults, which WorkerSettings takes as its own
DEFAULTS = WorkerOptions("w", "g", ".*", "t")


def test_the_default_in_flight_holds_500_requests_a_second_at_1_5_s() -> None:
    needed = 500 * 1.5
    assert DEFAULTS.max_in_flight >= 1000 > needed
    assert WorkerSettings.model_fields["max_in_flight"].default == DEFAULTS.max_in_flight


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_backlog_never_starves_the_event_loop(pipeline: MakePipeline) -> None:
    p = await pipeline()
    summ = p.tasks["summ"]
    # the default metadata refresh: under a pattern subscription each refresh decodes the
    # metadata of every topic of the (shared, test-crowded) cluster in one go
    await p.start(max_in_flight=DEFAULTS.max_in_flight, metadata_max_age_ms=30_000)
    async with RequestProducer.from_env(p.bootstrap) as producer:
        # one request first: the first provider call of a process sets up its SDK client
        warm = await producer.submit(summ, "warm up")
        await read_topic(
            p.bootstrap, [results_topic(summ)], LLMResult, until=lambda rs: len(rs) >= 1
        )
        ids = await asyncio.gather(*(producer.submit(summ, f"text {i}") for i in range(BACKLOG)))
    ids.append(warm)
    cpu_s: list[float] = []
    in_flight: list[int] = []
    running = True

    async def watch() -> None:
        """CPU time the loop spent between two 50 ms ticks: one long synchronous burst
        would delay the consumer's heartbeats by as much (wall time, on a busy machine,
        by several times as much)."""
        while running:
            cpu = time.process_time()
            await asyncio.sleep(0.05)
            cpu_s.append(time.process_time() - cpu)
            for health in p.health:
                in_flight.extend(c.worker.in_flight for c in health.checks)

    watcher = asyncio.create_task(watch())
    try:
        results = await read_topic(
            p.bootstrap,
            [results_topic(summ)],
            LLMResult,
            until=lambda rs: set(ids) <= {r.request_id for r in rs},
            timeout_s=150,
        )
    finally:
        running = False
        await watcher
    assert max(Counter(r.request_id for r in results).values()) == 1
    assert max(in_flight) <= DEFAULTS.max_in_flight
    # A burst shorter than half the session timeout cannot cost the group membership; the
    # starvation this guards against (every fetched record started at once) ran for longer.
    assert max(cpu_s) < 5.0, f"the event loop ran {max(cpu_s):.2f}s of CPU without a break"

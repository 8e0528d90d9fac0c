"""One model's `rpm` shared by three router processes on the real broker and a real
redis-server, offered four times its quota: the provider sees at most the quota (+ 5 %)
in any 60 s, the model's `queue_s` sends the excess to the route's fallback, and every
request is answered exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from llmrouter.producers import RequestProducer
from llmrouter.schemas import LLMResult, ResultStatus, results_topic
from llmrouter.simulator import SimConfig, running
from tests.factories import CATALOG, catalog, routing_config, static_route
from tests.workers.conftest import read_topic
from tests.workers.fleet import MakeFleet, make_fleet  # noqa: F401
from tests.workers.test_crash import Collector

RPM = 600
RATE_PER_S = 40.0
OFFERED_S = 90.0
REQUESTS = int(RATE_PER_S * OFFERED_S)
WINDOW_S = 60.0
SAMPLE_S = 0.2
PRIMARY_ID = CATALOG["cheap"]["model_id"]

# `make_fleet` formats `{qa}` with the test's own task name.
CONFIG = routing_config(
    defaults={"cache": {"enabled": False}, "max_output_tokens": 50},
    models=catalog("cheap", "mid", cheap={"rpm": RPM, "queue_s": 0.5}),
    tasks={"{qa}": static_route("cheap", "mid")},
)


@pytest.fixture
async def own_sim() -> AsyncIterator[str]:
    """A simulator of this test's own: its counters are this test's calls alone."""
    async with running(SimConfig(latency_ms=50, seed=17)) as url:
        yield url


async def calls_to(http: aiohttp.ClientSession, sim_url: str, model_id: str) -> int:
    async with http.get(f"{sim_url}/_sim/stats") as resp:
        stats = await resp.json()
    return int(sum(stats["models"].get(model_id, {}).values()))


#: (asked, answered, count): the count was true at some moment between asking and answer
Sample = tuple[float, float, int]


async def sample_calls(http: aiohttp.ClientSession, sim_url: str, model_id: str) -> Sample:
    asked = time.monotonic()
    count = await calls_to(http, sim_url, model_id)
    return asked, time.monotonic(), count


def most_in_any_window(samples: list[Sample], window_s: float) -> int:
    """The largest rise of a sampled counter over any span of at most `window_s`, a span
    measured from the earlier sample's asking to the later one's answer: never shorter than
    the real span, however late a loaded machine reads the counter."""
    worst, start = 0, 0
    for i, (_, answered, later) in enumerate(samples):
        while start < i and samples[start][0] < answered - window_s:
            start += 1
        worst = max(worst, later - samples[start][2])
    return worst


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_three_router_processes_keep_one_rpm_and_answer_everything(
    make_fleet: MakeFleet,  # noqa: F811
    own_sim: str,
    redis_url: str,
) -> None:
    fleet = await make_fleet(CONFIG, tasks=("qa",), sim_url=own_sim, redis_url=redis_url)
    task = fleet.tasks["qa"]
    await fleet.spawn("classifier", "classifier")
    for name in ("r1", "r2", "r3"):
        await fleet.spawn(name, "router")
    await fleet.settled(routers=3)
    samples: list[Sample] = []
    done = asyncio.Event()
    async with (
        aiohttp.ClientSession() as http,
        Collector(fleet.bootstrap, [results_topic(task)]) as seen,
    ):

        async def sample() -> None:
            while not done.is_set():
                samples.append(await sample_calls(http, own_sim, PRIMARY_ID))
                try:
                    await asyncio.wait_for(done.wait(), SAMPLE_S)
                except TimeoutError:
                    continue
            samples.append(await sample_calls(http, own_sim, PRIMARY_ID))

        sampler = asyncio.create_task(sample())
        try:
            ids: list[str] = []
            async with RequestProducer.from_env(fleet.bootstrap) as producer:
                loop = asyncio.get_running_loop()
                started = loop.time()
                sends = []
                for i in range(REQUESTS):  # open loop: a slow acknowledgement delays no send
                    delay_s = started + i / RATE_PER_S - loop.time()
                    if delay_s > 0:
                        await asyncio.sleep(delay_s)  # the offered rate, not a synchronisation
                    sends.append(asyncio.create_task(producer.submit(task, f"question {i}")))
                ids = list(await asyncio.gather(*sends))
            offered_s = loop.time() - started
            wanted = set(ids)
            try:
                await seen.wait_for(lambda rs: wanted <= {r.request_id for r in rs}, timeout_s=120)
            except TimeoutError:
                missing = len(wanted - {r.request_id for r in seen.results})
                raise AssertionError(f"{missing} requests unanswered\n{fleet.tails()}") from None
        finally:
            done.set()
            await sampler

    assert len(wanted) == REQUESTS
    assert offered_s < OFFERED_S + 10, f"offered in {offered_s:.0f} s: not open loop"
    # Read the topic once more from its start: any result published twice shows up here.
    results = await read_topic(
        fleet.bootstrap,
        [results_topic(task)],
        LLMResult,
        until=lambda rs: len({r.request_id for r in rs}) >= REQUESTS,
    )
    copies = Counter(r.request_id for r in results)
    assert set(copies) == wanted
    assert max(copies.values()) == 1, copies.most_common(3)
    failed = [r for r in results if r.status is not ResultStatus.OK]
    assert not failed, failed[:3]
    by_model = Counter(r.model for r in results)
    assert by_model["mid"] > 0, by_model  # the excess went to the fallback
    assert by_model["cheap"] > 0, by_model
    # Attempts are provider calls: one per result (a turned-away call records none).
    assert all(len(r.attempts) == 1 for r in results), [
        r.attempts for r in results if len(r.attempts) != 1
    ][:3]

    worst = most_in_any_window(samples, WINDOW_S)
    total = samples[-1][2]
    assert total == by_model["cheap"], (total, by_model)  # the counter is this test's alone
    assert worst <= RPM * 1.05, f"{worst} calls in a {WINDOW_S:.0f} s window (rpm {RPM})"
    # The quota was really reached, else the bound above proves nothing.
    assert worst >= RPM * 0.95, f"only {worst} calls in the busiest window (rpm {RPM})"

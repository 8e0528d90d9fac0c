"""One task cannot starve the others: a flood of one task on a rate-limited model does not
hold another task's realtime requests, on the real broker and the simulator.

The flood is a batch backlog far larger than the model's rate and the worker's
`max_in_flight`, on the same rpm-limited model the other task uses. Without lanes every
partition paused once the flood filled the pool; with one FIFO per model the other
task's calls queued behind the whole flood (a few thousand calls at ten a second)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.producers import RequestProducer
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import LLMResult, ResultStatus, results_topic
from llmrouter.schemas.topics import router_topics
from llmrouter.workers.launch import WorkerSettings, run_workers
from tests.factories import catalog, routing_config, static_route
from tests.workers.conftest import read_topic

FLOOD = 3000
STEADY = 20
STEADY_EVERY_S = 0.5
#: p99 of the steady task's end-to-end latency (of 20, the worst): a loaded machine's
#: bound; starved, the requests would wait for the flood (minutes) or be turned away
P99_BOUND_S = 10.0


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_flood_of_one_task_does_not_hold_another_tasks_realtime_requests(
    kafka_bootstrap: str, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    suffix = uuid.uuid4().hex[:10]
    flood, steady = f"flood-{suffix}", f"steady-{suffix}"
    config = parse_config(
        routing_config(
            defaults={"cache": {"enabled": False}},
            # 600 a minute: a burst of 600, then ten calls a second
            models=catalog("cheap", cheap={"rpm": 600}),
            tasks={flood: static_route("cheap"), steady: static_route("cheap")},
        )
    )
    await ensure_topics(kafka_bootstrap, router_topics(config.tasks, partitions=3))
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    settings = WorkerSettings(
        kafka=kafka,
        instance_id=f"t{suffix}-i",
        max_in_flight=200,
        grace_s=1.0,  # the flood's backlog is abandoned to redelivery at the end
        group_prefix=f"t{suffix}-",
        metadata_max_age_ms=1000,
        metrics_port=-1,
        tasks_pattern=f".*-{suffix}",
        session_timeout_ms=6000,
        create_topics=False,
    )
    async with RequestProducer.from_env(kafka_bootstrap) as producer:
        await asyncio.gather(
            *(producer.submit(flood, f"backlog {i}", priority="batch") for i in range(FLOOD))
        )
        stop, ready = asyncio.Event(), asyncio.Event()
        workers = asyncio.create_task(
            run_workers(["classifier", "router"], config, settings, stop=stop, ready=ready)
        )
        try:
            await _until_ready(ready, workers)
            loop = asyncio.get_running_loop()

            async def timed(i: int) -> tuple[float, LLMResult]:
                await asyncio.sleep(i * STEADY_EVERY_S)  # a steady trickle, not a burst
                sent = loop.time()
                result = await producer.submit_and_wait(steady, f"now {i}", timeout_s=120)
                return loop.time() - sent, result

            answered = await asyncio.gather(*(timed(i) for i in range(STEADY)))
            flood_results = await read_topic(
                kafka_bootstrap,
                [results_topic(flood)],
                LLMResult,
                until=lambda rs: len(rs) >= 100,
                timeout_s=60,
            )
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(workers, 60)
    latencies = sorted(latency for latency, _ in answered)
    assert {r.status for _, r in answered} == {ResultStatus.OK}
    assert {r.model for _, r in answered} == {"cheap"}  # on the flooded model itself
    assert latencies[-1] < P99_BOUND_S, latencies
    # the flood is still being served meanwhile, on the same model
    assert len(flood_results) >= 100
    assert {r.status for r in flood_results} == {ResultStatus.OK}


async def _until_ready(ready: asyncio.Event, workers: asyncio.Task[None]) -> None:
    waiting = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({workers, waiting}, timeout=60, return_when="FIRST_COMPLETED")
    if workers in done:
        waiting.cancel()
        workers.result()  # raises what stopped them
    assert waiting in done, "workers did not start within 60 s"

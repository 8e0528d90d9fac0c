"""SIGKILL the batch worker process at random points of collect, submit, poll and publish,
again and again: each provider job is created once, each request billed once by the
simulator, and every request's result and cost event published exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from llmrouter.schemas import LLMResult, results_topic
from llmrouter.simulator import SimConfig, create_app
from llmrouter.simulator import running as sim_running
from llmrouter.simulator.app import engine_of
from llmrouter.simulator.batches import store_of
from llmrouter.workers.batch.publish import BATCH_PRICE_MARK
from tests.kafka_helpers import MakeProducer
from tests.workers.batch_helpers import (
    BatchSetup,
    batch_setup,
    costs_end_offsets,
    produce,
    read_costs,
    running,
)
from tests.workers.conftest import read_topic

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(400)]

KILLS = 10
WAVE = 12  # batch requests per task produced before each start


async def _spawn(setup: BatchSetup, config_file: Path, url: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": setup.bootstrap,
        "LLMROUTER_SIMULATOR_URL": url,
        "LLMROUTER_GROUP_PREFIX": setup.group_prefix,
        "LLMROUTER_TASKS_PATTERN": f".*-{setup.suffix}",
        "LLMROUTER_SESSION_TIMEOUT_MS": "6000",
        "LLMROUTER_METRICS_PORT": "-1",
        "LLMROUTER_BATCHES_TOPIC": setup.topic,
        "LLMROUTER_PARTITIONS": "2",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmrouter",
        "worker",
        "batch",
        "--config",
        str(config_file),
        # the same instance id each time: a restart takes the partitions back at once
        "--instance-id",
        f"{setup.group_prefix}batch",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _tee(proc: asyncio.subprocess.Process, lines: list[str], owning: asyncio.Event) -> None:
    """Keep the process's log lines; set `owning` once it caught up a partition."""
    assert proc.stdout is not None
    async for raw in proc.stdout:
        line = raw.decode(errors="replace")
        lines.append(line)
        if "batch partition caught up" in line:
            owning.set()


async def _results(bootstrap: str, tasks: list[str], expected: int) -> list[LLMResult]:
    """Every result of `tasks` once `expected` are there, or what there is after 60 s."""
    topics = [results_topic(task) for task in tasks]
    try:
        return await read_topic(
            bootstrap, topics, LLMResult, until=lambda got: len(got) >= expected, timeout_s=60
        )
    except AssertionError:
        return await read_topic(bootstrap, topics, LLMResult, until=lambda got: True)


async def test_sigkills_lose_and_double_nothing(
    kafka_bootstrap: str,
    make_producer: MakeProducer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    app = create_app(SimConfig(latency_ms=0, seed=7))
    store = store_of(app)
    # jobs take a moment at the provider: kills land while they are polled too
    store.knobs = store.knobs.model_copy(update={"processing_s": 0.4})
    rng = random.Random(11)
    async with sim_running(app=app) as url:
        monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", url)
        setup = batch_setup(kafka_bootstrap, max_requests=8)
        ta, tb = setup.tasks["ta"], setup.tasks["tb"]
        since = await costs_end_offsets(kafka_bootstrap)
        config_file = tmp_path / "routing.yaml"
        config_file.write_text(setup.config_text)
        lines: list[str] = []
        producer = await make_producer()
        ids: list[str] = []
        failing: list[str] = []
        async with running(setup, ["classifier", "router"]):
            for n in range(KILLS + 1):
                ids += await produce(producer, ta, WAVE, batch=True, prefix=f"a{n}")
                ids += await produce(producer, tb, WAVE, batch=True, prefix=f"b{n}")
                # one a wave the job answers with an error: it falls back to a realtime call
                failing += await produce(
                    producer, ta, 1, batch=True, prefix=f"e{n}", text="[[sim:fault=500*1]]"
                )
                lines.append(f"=== start {n}\n")
                proc = await _spawn(setup, config_file, url)
                owning = asyncio.Event()
                tee = asyncio.create_task(_tee(proc, lines, owning))
                try:
                    await asyncio.wait_for(owning.wait(), 60)
                    if n == KILLS:
                        ids += failing
                        results = await _results(kafka_bootstrap, [ta, tb], len(ids))
                        break
                    await asyncio.sleep(rng.uniform(0.0, 1.5))  # a random point of its work
                finally:
                    if proc.returncode is None:
                        proc.send_signal(signal.SIGKILL if n < KILLS else signal.SIGTERM)
                    await proc.wait()
                    await tee
        got = Counter(r.request_id for r in results)
        missing = sorted(set(ids) - set(got))
        doubled = sorted(rid for rid, n in got.items() if n > 1)
        assert (missing, doubled) == ([], []), "".join(lines[-40:])
        costs = await read_costs(
            kafka_bootstrap,
            since,
            ids,
            until=lambda got: sum(1 for c in got if c.task in (ta, tb)) >= len(ids),
            timeout_s=60,
        )
        journal = engine_of(app).journal.calls()

    assert sum(line.startswith("=== start") for line in lines) == KILLS + 1
    # every request answered once: at the batch price, or by its realtime fallback
    assert sorted(r.request_id for r in results) == sorted(ids)
    assert all(r.status.value == "ok" for r in results)
    fell_back = {r.request_id for r in results if not _batched(r)}
    assert fell_back == set(failing)
    ours = Counter(c.request_id for c in costs if c.task in (ta, tb))
    assert ours == Counter(ids)
    # the provider: each request in one job only, each billed once
    in_jobs = Counter(custom for job in store.jobs.values() for custom, _ in job.requests)
    assert set(in_jobs.values()) == {1}
    job_ids = Counter(custom.rsplit("-", 1)[0] for custom in in_jobs)
    created = Counter(job.requests[0][0].rsplit("-", 1)[0] for job in store.jobs.values())
    assert set(created.values()) == {1}, "a job was created twice at the provider"
    assert sum(job_ids.values()) == len(ids)
    billed = Counter(
        c.prompt_hash for c in journal if c.api.endswith("-batch") and c.outcome == "ok"
    )
    assert len(billed) == len(ids) - len(failing)
    assert set(billed.values()) == {1}
    realtime = Counter(c.prompt_hash for c in journal if c.api == "openai" and c.outcome == "ok")
    assert len(realtime) == len(failing)
    assert set(realtime.values()) == {1}


def _batched(result: LLMResult) -> bool:
    source = result.attempts[-1].price_source if result.attempts else None
    return bool(source and source.endswith(BATCH_PRICE_MARK))

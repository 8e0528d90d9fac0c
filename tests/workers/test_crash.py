"""Crash safety: SIGKILL the routing worker mid-stream, again and again; read_committed
readers still see exactly one result per request and exactly one cost event per attempt."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from llmrouter.producers import RequestProducer
from llmrouter.schemas import COSTS_TOPIC, CostEvent, LLMResult, ResultStatus, decode, results_topic
from tests.workers.conftest import Pipeline, assign_from_start, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]

KILLS = 3
REQUESTS = 240


class Collector:
    """Reads topics (read_committed) in the background; waiters wake on each batch."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self.results: list[LLMResult] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Collector:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, group_id=None, isolation_level="read_committed"
        )
        await consumer.start()
        await assign_from_start(consumer, self._topics)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        assert self._consumer is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            if batch:
                async with self._changed:
                    for records in batch.values():
                        self.results.extend(decode(r.value, LLMResult) for r in records)
                    self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[list[LLMResult]], bool], timeout_s: float
    ) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: predicate(self.results)), timeout_s
            )


def _at_least(n: int) -> Callable[[list[LLMResult]], bool]:
    return lambda results: len(results) >= n


def _covers(ids: set[str]) -> Callable[[list[LLMResult]], bool]:
    return lambda results: ids <= {r.request_id for r in results}


@contextlib.asynccontextmanager
async def router_process(
    config: Path, env: dict[str, str]
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Yields a list holding the live router worker process; the test replaces it."""
    procs: list[asyncio.subprocess.Process] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def spawn_router(config: Path, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "llmrouter",
            "worker",
            "router",
            "--config",
            str(config),
            "--instance-id",
            "crash-test",  # the same id after every restart: the new process fences the old
            "--max-in-flight",
            "32",
            env=env,
            stdout=out,
            stderr=out,
        )


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_sigkill_mid_stream_never_duplicates_or_loses(
    pipeline: MakePipeline, sim_url: str, tmp_path: Path
) -> None:
    p = await pipeline()
    config_file = tmp_path / "routing.yaml"
    config_file.write_text(p.config_text)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
        "LLMROUTER_SIMULATOR_URL": sim_url,
        "LLMROUTER_GROUP_PREFIX": p.group_prefix,
        "LLMROUTER_TASKS_PATTERN": f".*-{p.suffix}",
        "LLMROUTER_SESSION_TIMEOUT_MS": "6000",
        "LLMROUTER_METRICS_PORT": "-1",
    }
    await p.start(kinds=["classifier"])
    summ, mod = p.tasks["summ"], p.tasks["mod"]
    log = tmp_path / "router.log"
    async with (
        Collector(p.bootstrap, [results_topic(summ), results_topic(mod)]) as seen,
        router_process(config_file, env) as procs,
    ):
        procs.append(await spawn_router(config_file, env, log))
        async with RequestProducer.from_env(p.bootstrap) as producer:
            ids = []
            for i in range(REQUESTS):
                task, text = (summ, f"summary {i}") if i % 2 else (mod, f"unsure post {i}")
                ids.append(await producer.submit(task, f"{text} [[sim:latency_ms=150]]"))
        for kill in range(1, KILLS + 1):
            target = kill * REQUESTS // (KILLS + 2)
            await seen.wait_for(_at_least(target), timeout_s=90)
            procs[-1].send_signal(signal.SIGKILL)
            await procs[-1].wait()
            procs.append(await spawn_router(config_file, env, log))
        await seen.wait_for(_covers(set(ids)), timeout_s=120)

    results = await read_topic(
        p.bootstrap,
        [results_topic(summ), results_topic(mod)],
        LLMResult,
        until=lambda rs: set(ids) <= {r.request_id for r in rs},
    )
    counts = Counter(r.request_id for r in results)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1, [rid for rid, n in counts.items() if n > 1]
    assert all(r.status is ResultStatus.OK for r in results)
    attempts = {(r.request_id, i): a for r in results for i, a in enumerate(r.attempts)}
    events = await read_topic(
        p.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: sum(e.request_id in counts for e in evs) >= len(attempts),
    )
    mine = [e for e in events if e.request_id in counts]
    keys = Counter((e.request_id, e.attempt) for e in mine)
    assert max(keys.values()) == 1, "a cost event was published twice"
    assert set(keys) == set(attempts)
    for e in mine:
        a = attempts[(e.request_id, e.attempt)]
        assert (e.model, e.cost_usd, e.input_tokens, e.output_tokens) == (
            a.model,
            a.cost_usd,
            a.input_tokens,
            a.output_tokens,
        )

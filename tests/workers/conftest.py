"""Pipeline fixtures: workers running on the real broker against the simulator, with task
names unique to each test so no test sees another's messages."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router import RouterConfig
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import decode
from llmrouter.schemas.topics import router_topics
from llmrouter.workers.health import HealthServer
from llmrouter.workers.kinds import WorkerKind
from llmrouter.workers.launch import WorkerSettings, run_workers
from tests.factories import catalog, routing_config, static_route

M = TypeVar("M", bound=BaseModel)

# `{qa}`, `{mod}` and `{summ}` become the test's own task names.
PIPELINE_CONFIG = routing_config(
    defaults={
        "max_input_chars": 2000,
        "max_calls_per_request": 6,
        "retry": {"base_delay_s": 0.01, "max_delay_s": 0.05},
        "cache": {"enabled": False},
    },
    models=catalog("cheap", "mid", "big"),
    classifiers={
        "rules": {
            "kind": "rules",
            "rules": [
                {"name": "long", "weight": 1.0, "min_chars": 120},
                {"name": "billing", "weight": 2.0, "any_of": ["refund", "charged", "invoice"]},
            ],
        }
    },
    tasks={
        "{qa}": {
            "route": {
                "strategy": "complexity",
                "classifier": "rules",
                "levels": {"SIMPLE": "cheap", "MEDIUM": "mid", "COMPLEX": "big"},
                "fallback": ["big"],
            }
        },
        "{mod}": {
            "prompt": {"response_format": "json"},
            "route": {
                "strategy": "cascade",
                "scorer": "tests.router.scorers:unsure_marker",
                "steps": [{"model": "cheap", "min_confidence": 0.9}, {"model": "big"}],
            },
        },
        "{summ}": static_route("cheap", "mid"),
    },
)

#: a minute before this test session began (record timestamps come from this machine's clock)
SESSION_START_MS = int(time.time() * 1000) - 60_000


@dataclass
class Pipeline:
    bootstrap: str
    config: RouterConfig
    config_text: str
    tasks: dict[str, str]
    group_prefix: str
    suffix: str
    kafka: KafkaSettings
    runs: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)
    health: list[HealthServer] = field(default_factory=list)

    def settings(self, **overrides: Any) -> WorkerSettings:
        base: dict[str, Any] = {
            "kafka": self.kafka,
            "instance_id": f"{self.group_prefix}i",
            "max_in_flight": 64,
            "grace_s": 10.0,
            "group_prefix": self.group_prefix,
            "metadata_max_age_ms": 1000,
            "metrics_port": 0,
            "metrics_host": "127.0.0.1",
            "health_probe_s": 0.5,
            "tasks_pattern": f".*-{self.suffix}",
            "session_timeout_ms": 6000,
        }
        base.update(overrides)
        return WorkerSettings(**base)

    async def start(
        self, kinds: Iterable[WorkerKind] = ("classifier", "router"), **overrides: Any
    ) -> asyncio.Event:
        """Run workers in this process; returns the event that stops them."""
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            run_workers(
                list(kinds),
                self.config,
                self.settings(**overrides),
                stop=stop,
                ready=ready,
                on_health=self.health.append,
            )
        )
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            {task, ready_wait}, timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            ready_wait.cancel()
            task.result()  # raises what stopped it
        assert ready_wait in done, "workers did not start within 60 s"
        self.runs.append((stop, task))
        return stop

    async def stop_all(self) -> None:
        for stop, _task in self.runs:
            stop.set()
        for _, task in self.runs:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 60)
        self.runs.clear()


@pytest.fixture
async def pipeline(
    kafka_bootstrap: str, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    made: list[Pipeline] = []

    async def make(
        *, create_topics: bool = True, partitions: int = 3, bootstrap: str | None = None
    ) -> Pipeline:
        servers = bootstrap or kafka_bootstrap
        suffix = uuid.uuid4().hex[:10]
        tasks = {name: f"{name}-{suffix}" for name in ("qa", "mod", "summ")}
        text = PIPELINE_CONFIG.format(**tasks)
        config = parse_config(text)
        if create_topics:
            await ensure_topics(servers, router_topics(config.tasks, partitions=partitions))
        p = Pipeline(
            bootstrap=servers,
            config=config,
            config_text=text,
            tasks=tasks,
            group_prefix=f"t{suffix}-",
            suffix=suffix,
            kafka=KafkaSettings(bootstrap_servers=servers),
        )
        made.append(p)
        return p

    yield make
    for p in made:
        await p.stop_all()


async def read_topic(
    bootstrap: str,
    topics: Iterable[str],
    model: type[M],
    *,
    until: Callable[[list[M]], bool],
    timeout_s: float = 60.0,
) -> list[M]:
    """Every message of `topics` from the beginning (read_committed) until `until(messages)`
    holds, then a short extra read to catch anything published twice."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        await assign_from_start(consumer, topics)
        messages: list[M] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        satisfied_at: float | None = None
        while True:
            now = asyncio.get_running_loop().time()
            if satisfied_at is None and until(messages):
                satisfied_at = now
            if satisfied_at is not None and now - satisfied_at > 1.0:
                return messages
            if now > deadline:
                raise AssertionError(f"timed out with {len(messages)} messages on {list(topics)}")
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                messages.extend(decode(r.value, model) for r in records)
    finally:
        await consumer.stop()


async def assign_from_start(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> None:
    """Assign every partition of `topics` (no group) and seek to the first record written
    since this test session began: the shared topics (`llm.costs`, `llm.dlq`, ...) keep every
    earlier run's records on a reused broker, a million of them after a few benchmarks."""
    await consumer._client.force_metadata_update()
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in consumer.partitions_for_topic(topic) or ()
    ]
    assert partitions, f"no partitions found for {list(topics)}"
    consumer.assign(partitions)
    # The ends first: a record written after this lookup is past them, so none is skipped.
    ends = await consumer.end_offsets(partitions)
    firsts = await consumer.offsets_for_times(dict.fromkeys(partitions, SESSION_START_MS))
    for tp in partitions:
        found = firsts[tp]
        consumer.seek(tp, found.offset if found is not None else ends[tp])

"""Helpers of the quality-worker tests: a config with the test's own task and simulated
models, a running pipeline, a reader that keeps what a topic holds, and simulator calls."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.reading import start_group_at_end
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import FEEDBACK_TOPIC, decode
from llmrouter.schemas.scores import SCORES_TOPIC
from llmrouter.schemas.topics import router_topics
from llmrouter.workers.quality.build import quality_topics
from tests.factories import routing_config
from tests.workers.conftest import Pipeline, assign_from_start


def sim_model(model_id: str) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model_id": model_id,
        "input_usd_per_1k": 0.001,
        "output_usd_per_1k": 0.002,
    }


async def watch_pipeline(
    bootstrap: str, task_spec: dict[str, Any], *, partitions: int = 1, **defaults: Any
) -> Pipeline:
    """A pipeline whose one task (`watch-<suffix>`) is `task_spec`, over the models alpha,
    beta and judge, each a simulated model id of its own (`gpt-4-<name>-<suffix>`); its
    own topics have `partitions` partitions."""
    suffix = uuid.uuid4().hex[:10]
    task = f"watch-{suffix}"
    text = routing_config(
        defaults={"cache": {"enabled": False}, "max_input_chars": 20000, **defaults},
        models={name: sim_model(f"gpt-4-{name}-{suffix}") for name in ("alpha", "beta", "judge")},
        tasks={task: task_spec},
    )
    config = parse_config(text)
    await ensure_topics(bootstrap, router_topics(config.tasks, partitions=partitions))
    await ensure_topics(bootstrap, quality_topics(config, partitions=partitions))
    return Pipeline(
        bootstrap=bootstrap,
        config=config,
        config_text=text,
        tasks={"watch": task},
        group_prefix=f"t{suffix}-",
        suffix=suffix,
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
    )


class TopicReader:
    """Everything committed on some topics, read as it comes (read_committed)."""

    def __init__(self, bootstrap: str, topics: list[str], model: type[Any]) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        self._topics = topics
        self._model = model
        self.messages: list[Any] = []

    async def start(self) -> None:
        await self._consumer.start()
        await assign_from_start(self._consumer, self._topics)

    async def until(self, done: Callable[[list[Any]], bool], timeout_s: float = 120.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not done(self.messages):
                batch = await self._consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    self.messages.extend(decode(r.value, self._model) for r in records)

    async def stop(self) -> None:
        await self._consumer.stop()


async def wait_for(check: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Wait until `check()` holds: a metric the worker running in this process updates,
    with no event to wait on, so it is polled (each poll yields to the worker)."""
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def set_sim_model(sim_url: str, model_id: str, **fields: Any) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim_url}/_sim/models/{model_id}", json=fields) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def sim_calls(sim_url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/calls") as resp:
        body: dict[str, Any] = await resp.json()
        calls: list[dict[str, Any]] = body["calls"]
        return calls


async def committed_past(
    bootstrap: str, group: str, offsets: dict[TopicPartition, int], timeout_s: float = 120.0
) -> None:
    """Until `group` has committed past `offsets` (each the last offset to be processed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                committed = await admin.list_consumer_group_offsets(group)
                if all(
                    tp in committed and committed[tp].offset > last for tp, last in offsets.items()
                ):
                    return
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def skip_history(bootstrap: str, group: str) -> None:
    """Start the group at the current end of the shared topics it reads (llm.scores and
    llm.feedback hold every earlier test's records, none of this test's concern)."""
    await start_group_at_end(
        KafkaSettings(bootstrap_servers=bootstrap), group, (SCORES_TOPIC, FEEDBACK_TOPIC)
    )

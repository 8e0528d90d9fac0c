"""Without a state store each router replica takes 1/N of the limits, N being the live
members of its consumer group on the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.config_loader import parse_config
from llmrouter.router.state.wiring import local_state
from llmrouter.workers.group_share import follow_group_size
from tests.kafka_helpers import MakeTopics

CONFIG = """\
version: 1
models:
  cheap:
    provider: openai
    model_id: gpt-test
    input_usd_per_1k: 0.001
    output_usd_per_1k: 0.002
    rpm: 600
    max_concurrency: 30
tasks:
  qa:
    route: {strategy: static, model: cheap}
"""


async def test_each_replica_takes_its_share_of_the_group(
    kafka_bootstrap: str, make_topics: MakeTopics, unique_name: Callable[[str], str]
) -> None:
    topic, group = unique_name("share"), unique_name("group")
    await make_topics(topic, partitions=3)
    state = local_state(parse_config(CONFIG))
    limiter = state.local_limiters["cheap"]
    members = [
        AIOKafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, group_id=group, session_timeout_ms=6000
        )
        for _ in range(3)
    ]
    stop = asyncio.Event()
    follower = asyncio.create_task(
        follow_group_size(
            state, KafkaSettings(bootstrap_servers=kafka_bootstrap), group, stop, interval_s=0.2
        )
    )
    try:
        for member in members:
            await member.start()
        polls = [asyncio.create_task(m.getmany(timeout_ms=30_000)) for m in members]
        await until(lambda: limiter.replicas == 3)
        assert limiter._gate.size == 10
        assert limiter._rpm is not None
        assert limiter._rpm.capacity == 200
        for poll in polls:
            poll.cancel()
        await members.pop().stop()  # one replica leaves: the others take more
        await until(lambda: limiter.replicas == 2)
        assert limiter._gate.size == 15
    finally:
        stop.set()
        await follower
        for member in members:
            await member.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Look at `condition` every 100 ms (the follower checks the group every 200 ms)."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.1)

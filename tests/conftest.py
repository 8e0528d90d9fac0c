"""Shared fixtures: one real Kafka broker per session, per-test names, topics and clients.

Tests that use `kafka_bootstrap` (directly or through another fixture) are marked
`kafka` automatically, so `pytest -m "not kafka"` runs without a broker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from llmrouter.kafkaio.admin import ensure_topics
from tests.kafka_helpers import (
    MakeConsumer,
    MakeProducer,
    MakeTopics,
    delete_topics,
    session_broker,
)

pytest_plugins = ["tests.open_connections"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real broker: `KAFKA_BOOTSTRAP_SERVERS`, a running local
    broker, a Docker container, or a local broker started as `llmrouter kafka start` does."""
    with session_broker() as servers:
        yield servers


@pytest.fixture(autouse=True)
async def _broker_keeps_no_test_topics(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """Deletes every topic a Kafka test created in this process, after its workers stopped
    (an autouse fixture is torn down last): a thousand tests' topics would otherwise fill
    the broker's heap. Only the creations this process saw succeed count, so a test never
    deletes what another session on the same broker made, and the router's shared topics
    (`llm.costs`, `llm.dlq`, ...) stay."""
    if "kafka_bootstrap" not in request.fixturenames:
        yield
        return
    servers: str = request.getfixturevalue("kafka_bootstrap")
    created: set[str] = set()
    create = AIOKafkaAdminClient.create_topics

    async def recording(self: AIOKafkaAdminClient, new_topics: Any, *args: Any, **kw: Any) -> Any:
        response = await create(self, new_topics, *args, **kw)
        created.update(t[0] for t in response.topic_errors if t[1] == 0)
        return response

    monkeypatch.setattr(AIOKafkaAdminClient, "create_topics", recording)
    yield
    mine = {t for t in created if not (t.startswith("llm.") and t.count(".") == 1)}
    if mine:
        await delete_topics(servers, mine)


@pytest.fixture(scope="session")
async def sim_url() -> AsyncIterator[str]:
    """A provider simulator for the whole session (zero latency, fixed seed)."""
    from llmrouter.simulator import SimConfig, running

    async with running(SimConfig(latency_ms=0, seed=3)) as url:
        yield url


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """URL of a real redis-server for the whole session (skips when none is installed)."""
    from tests.redis_helpers import redis_available, running_redis

    if not redis_available():
        pytest.skip("needs redis-server")
    async with running_redis() as url:
        yield url


@pytest.fixture(scope="session")
async def redis_cluster_url() -> AsyncIterator[str]:
    """URL (`?cluster=true`) of a real three-node Redis Cluster for the whole session."""
    from tests.redis_helpers import redis_cluster_available, running_redis_cluster

    if not redis_cluster_available():
        pytest.skip("needs redis-server and redis-cli")
    async with running_redis_cluster() as url:
        yield url


@pytest.fixture(params=["single", "cluster"])
def state_store_url(request: pytest.FixtureRequest) -> str:
    """The session's redis-server, and again the session's Redis Cluster."""
    return str(
        request.getfixturevalue(f"redis{'_cluster' if request.param == 'cluster' else ''}_url")
    )


@pytest.fixture
async def state_store(state_store_url: str) -> AsyncIterator[Any]:
    """A StateStore with a key prefix of its own, on a single Redis and on a Redis Cluster
    (where every script and multi-key command must keep to one slot)."""
    from llmrouter.router.state import StateStore

    store = StateStore.connect(state_store_url, prefix=f"test-{uuid.uuid4().hex[:12]}")
    yield store
    await store.aclose()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """`unique_name("orders")` -> "orders-1f2e3d4c5b6a": tests never share topics or groups."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def make_topics(kafka_bootstrap: str) -> AsyncIterator[MakeTopics]:
    """`await make_topics(name, ..., partitions=1)` creates topics, deleted after the test."""
    made: list[str] = []

    async def make(*names: str, partitions: int = 1) -> list[str]:
        await ensure_topics(kafka_bootstrap, names, partitions=partitions)
        made.extend(names)
        return list(names)

    yield make
    if made:
        await delete_topics(kafka_bootstrap, made)


@pytest.fixture
async def make_producer(kafka_bootstrap: str) -> AsyncIterator[MakeProducer]:
    """`await make_producer(**aiokafka_kwargs)` returns a started producer, stopped after."""
    started: list[AIOKafkaProducer] = []

    async def make(**kwargs: Any) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **kwargs)
        started.append(producer)
        await producer.start()
        return producer

    yield make
    for producer in reversed(started):
        await producer.stop()


@pytest.fixture
async def make_consumer(kafka_bootstrap: str) -> AsyncIterator[MakeConsumer]:
    """`await make_consumer(topic, ..., **aiokafka_kwargs)`: a started consumer reading from
    the earliest offset unless told otherwise, stopped after the test."""
    started: list[AIOKafkaConsumer] = []

    async def make(*topics: str, **kwargs: Any) -> AIOKafkaConsumer:
        kwargs.setdefault("auto_offset_reset", "earliest")
        consumer = AIOKafkaConsumer(*topics, bootstrap_servers=kafka_bootstrap, **kwargs)
        started.append(consumer)
        await consumer.start()
        return consumer

    yield make
    for consumer in reversed(started):
        await consumer.stop()

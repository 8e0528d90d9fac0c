"""A consumer or producer whose stop fails or hangs still has its broker connections
closed (kafkaio/stopping.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from llmrouter.kafkaio.stopping import stop_within


async def _fails() -> None:
    raise RuntimeError("stop failed half-way")


async def _hangs() -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize("stop", [_fails, _hangs], ids=["fails", "hangs"])
@pytest.mark.parametrize("kind", [AIOKafkaConsumer, AIOKafkaProducer])
async def test_a_stop_that_fails_or_hangs_still_closes_the_connections(
    kafka_bootstrap: str, kind: type[Any], stop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = kind(bootstrap_servers=kafka_bootstrap)
    await client.start()
    kafka_client = client._client if kind is AIOKafkaConsumer else client.client
    real_stop = client.stop
    try:
        broker = next(iter(kafka_client.cluster.brokers()))
        assert await kafka_client.ready(broker.nodeId)  # a connection to close
        connections = dict(kafka_client._conns)
        assert connections
        monkeypatch.setattr(client, "stop", stop)
        await stop_within(client, timeout_s=0.5)
        assert all(conn.connected() is False for conn in connections.values())
    finally:
        await real_stop()


async def test_a_clean_stop_is_just_a_stop(kafka_bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await stop_within(producer, timeout_s=30)
    assert producer.client._conns == {}

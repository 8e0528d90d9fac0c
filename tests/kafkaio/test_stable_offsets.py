"""Committed offsets are read only once stable: OffsetFetch with `require_stable` waits
for a transaction that commits offsets to resolve."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.stable_offsets import fetch_stable_offsets
from llmrouter.kafkaio.transactions import Output, commit_transaction, start_transactional_producer
from tests.kafka_helpers import MakeTopics


@pytest.mark.slow
async def test_committed_offsets_are_read_only_once_the_transaction_resolved(
    kafka_bootstrap: str, make_topics: MakeTopics, unique_name: Callable[[str], str]
) -> None:
    (topic,) = await make_topics(unique_name("stable"))
    group = unique_name("group")
    tp = TopicPartition(topic, 0)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    producer = await start_transactional_producer(kafka, unique_name("txn"))
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        await commit_transaction(
            producer, [Output(topic, b"x")], {tp: OffsetAndMetadata(5, "m")}, group
        )
        assert await fetch_stable_offsets(consumer, group, [tp]) == {tp: OffsetAndMetadata(5, "m")}
        await producer.begin_transaction()
        await producer.send_offsets_to_transaction({tp: OffsetAndMetadata(9, "n")}, group)
        # aiokafka's own fetch answers the older offset while the commit is pending ...
        assert await consumer.committed(tp) == 5
        pending = asyncio.create_task(fetch_stable_offsets(consumer, group, [tp]))
        await asyncio.sleep(0.5)
        assert not pending.done()  # ... the stable fetch waits for it
        await producer.commit_transaction()
        assert await asyncio.wait_for(pending, 10) == {tp: OffsetAndMetadata(9, "n")}
    finally:
        await producer.stop()
        await consumer.stop()

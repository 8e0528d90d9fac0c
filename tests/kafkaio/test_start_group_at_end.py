"""`start_group_at_end`: the group's commits land on each partition's current end."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from llmrouter.kafkaio.reading import start_group_at_end
from llmrouter.kafkaio.settings import KafkaSettings
from tests.kafka_helpers import MakeProducer, MakeTopics


async def test_the_group_starts_after_what_the_topics_hold(
    kafka_bootstrap: str, make_topics: MakeTopics, make_producer: MakeProducer
) -> None:
    topic = f"test.group-at-end.{uuid.uuid4().hex[:8]}"
    await make_topics(topic, partitions=2)
    producer = await make_producer()
    for i in range(5):
        await producer.send_and_wait(topic, b"x", partition=i % 2)
    group = f"test-group-at-end-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(KafkaSettings(bootstrap_servers=kafka_bootstrap), group, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        committed = {p: await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)}
    finally:
        await consumer.stop()
    assert committed == {0: 3, 1: 2}

"""`llm.batches`: created compacted (its records are the batch worker's state, keyed by
entry and job, tombstoned when done)."""

from __future__ import annotations

from typing import Any

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings

__all__ = ["ensure_batches_topic"]


async def ensure_batches_topic(kafka: KafkaSettings, topic: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    kwargs: dict[str, Any] = kafka.client_kwargs()
    admin = AIOKafkaAdminClient(**kwargs)
    try:
        await admin.start()
        if topic not in set(await admin.list_topics()):
            await admin.create_topics(
                [NewTopic(topic, partitions, 1, topic_configs={"cleanup.policy": "compact"})]
            )
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot create {topic}: {exc}") from None
    finally:
        await admin.close()
    bootstrap = kwargs.pop("bootstrap_servers")
    await ensure_topics(bootstrap, [topic], partitions=partitions, client_kwargs=kwargs)

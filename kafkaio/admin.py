"""Create topics and wait for their leaders; our brokers never create a topic on first use,
so a misspelt name fails at once instead of quietly making a new topic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors, translate_kafka_error

__all__ = ["ensure_topics"]


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int] | Iterable[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    client_kwargs: dict[str, Any] | None = None,
    timeout_s: float = 30,
) -> list[str]:
    """Create the missing topics and wait until every one has a leader for each partition.

    `topics` maps names to partition counts, or lists names that get `partitions`.
    Existing topics are left as they are (their partition count is not changed).
    Returns the names this call created. Raises KafkaUnavailable when the cluster
    cannot be reached or refuses a topic.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    wanted = dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, partitions)
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(client_kwargs or {}))
    try:
        with kafka_errors(f"could not create topics on {bootstrap}"):
            async with asyncio.timeout(timeout_s):
                await admin.start()
                created = await _create_missing(admin, wanted, replication_factor, timeout_s)
                await _wait_for_leaders(admin, wanted)
    except TimeoutError:
        raise KafkaUnavailable(
            f"topics on {bootstrap} not ready within {timeout_s:.0f}s: {sorted(wanted)}"
        ) from None
    finally:
        await admin.close()
    return created


async def _create_missing(
    admin: Any, wanted: Mapping[str, int], replication_factor: int, timeout_s: float
) -> list[str]:
    from aiokafka.admin import NewTopic
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    existing = set(await admin.list_topics())
    missing = [
        NewTopic(name, count, replication_factor)
        for name, count in wanted.items()
        if name not in existing
    ]
    if not missing:
        return []
    created: list[str] = []
    response = await admin.create_topics(missing, timeout_ms=int(timeout_s * 1000))
    for name, code, *rest in response.topic_errors:
        error = for_code(code) if code else None
        if error is None:
            created.append(name)
        elif error is not TopicAlreadyExistsError:  # a concurrent creator won
            detail = rest[0] if rest and rest[0] else error.description
            raise translate_kafka_error(error(detail), f"could not create topic {name!r}")
    return created


async def _wait_for_leaders(admin: Any, wanted: Mapping[str, int]) -> None:
    """Poll metadata until each topic is listed with a leader on all its partitions.

    CreateTopics returns before leaders are elected; a producer that races ahead gets
    retriable errors, and a consumer can miss partitions in its first assignment.
    The caller's timeout bounds the polling.
    """
    names = list(wanted)
    while True:
        described = await admin.describe_topics(names)
        ready = {
            t["topic"]
            for t in described
            if t["error_code"] == 0
            and t["partitions"]
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in t["partitions"])
        }
        if ready >= set(names):
            return
        names = [n for n in names if n not in ready]
        await asyncio.sleep(0.1)

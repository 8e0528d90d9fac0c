"""Create topics and wait for their leaders; our brokers never create a topic on first use,
so a misspelt name fails at once instead of quietly making a new topic. Also read the
largest record batch the brokers accept (`message_max_bytes`), which bounds what a
producer may send."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors, translate_kafka_error

__all__ = ["DEFAULT_MESSAGE_MAX_BYTES", "ensure_topics", "message_max_bytes"]

log = structlog.get_logger("llmrouter.kafkaio")

#: what a producer may send when the brokers' limit cannot be read: the producer's own
#: default, just under the brokers' default `message.max.bytes` (1048588)
DEFAULT_MESSAGE_MAX_BYTES = 1_048_576


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


async def message_max_bytes(
    bootstrap: str,
    *,
    client_kwargs: dict[str, Any] | None = None,
    timeout_s: float = 10,
    fallback_bytes: int = DEFAULT_MESSAGE_MAX_BYTES,
) -> int:
    """The largest record batch every broker accepts: the smallest `message.max.bytes`
    the brokers report (DescribeConfigs). `fallback_bytes` when the cluster does not
    answer within `timeout_s`, refuses (no DescribeConfigs permission) or reports none:
    a worker must start all the same, with the producer's default."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(client_kwargs or {}))
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            limits = await _broker_limits(admin)
    except Exception as exc:  # any failure: fall back, the limit is an optimisation
        log.warning(
            "could not read the brokers' message.max.bytes; using the fallback",
            fallback_bytes=fallback_bytes,
            error=type(exc).__name__,
        )
        return fallback_bytes
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    if not limits:
        return fallback_bytes
    return min(limits)


async def _broker_limits(admin: Any) -> list[int]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    metadata = await admin._client.fetch_all_metadata()
    resources = [
        ConfigResource(ConfigResourceType.BROKER, str(broker.nodeId), {"message.max.bytes": None})
        for broker in metadata.brokers()
    ]
    if not resources:
        return []
    limits: list[int] = []
    for response in await admin.describe_configs(resources):
        for error_code, _message, _type, _name, entries in response.resources:
            if error_code:
                continue
            limits += [int(e[1]) for e in entries if e[0] == "message.max.bytes" and e[1]]
    return limits

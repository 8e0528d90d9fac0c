"""Create the topics the router uses; auto-creation is off on our brokers (see local.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from typing import Any

from llmrouter.core.errors import KafkaUnavailable

__all__ = ["DEFAULT_TASKS", "ensure_topics", "spec_topics"]

#: The seed document's tasks: what `llmrouter kafka start` prepares topics for.
DEFAULT_TASKS = (
    "customer-support-qa",
    "product-description",
    "email-summarization",
    "sentiment-classification",
    "moderation",
    "legal-document-analysis",
)

# Local copy of the SPEC's task-name rule, to be replaced by the `schemas` helpers.
_TASK_RE = re.compile(r"[a-z0-9][a-z0-9-]*")


def spec_topics(tasks: Iterable[str], partitions: int = 3) -> dict[str, int]:
    """The SPEC's topics for `tasks`, each with `partitions` partitions.

    Raises ValueError for a task name outside `[a-z0-9][a-z0-9-]*`.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    topics: dict[str, int] = {}
    for task in tasks:
        if not _TASK_RE.fullmatch(task):
            raise ValueError(f"invalid task name {task!r}: must match [a-z0-9][a-z0-9-]*")
        for kind in ("requests", "classified", "results"):
            topics[f"llm.{kind}.{task}"] = partitions
    topics["llm.costs"] = partitions
    topics["llm.dlq"] = partitions
    return topics


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
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import (
        KafkaConnectionError,
        KafkaError,
        TopicAlreadyExistsError,
        for_code,
    )

    wanted = dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, partitions)
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(client_kwargs or {}))
    created: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, count, replication_factor)
                for name, count in wanted.items()
                if name not in existing
            ]
            if missing:
                response = await admin.create_topics(missing, timeout_ms=int(timeout_s * 1000))
                for name, code, *rest in response.topic_errors:
                    error = for_code(code) if code else None
                    if error is None:
                        created.append(name)
                    elif error is not TopicAlreadyExistsError:  # a concurrent creator won
                        detail = rest[0] if rest and rest[0] else error.description
                        raise KafkaUnavailable(
                            f"could not create topic {name!r} on {bootstrap}: {detail}"
                        )
            await _wait_for_leaders(admin, wanted)
    except TimeoutError:
        raise KafkaUnavailable(
            f"topics on {bootstrap} not ready within {timeout_s:.0f}s: {sorted(wanted)}"
        ) from None
    except KafkaConnectionError:
        raise KafkaUnavailable(
            f"could not reach Kafka at {bootstrap} (is it running? `llmrouter kafka start`)"
        ) from None
    except KafkaError as exc:
        raise KafkaUnavailable(f"could not create topics on {bootstrap}: {exc!r}") from exc
    finally:
        await admin.close()
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

"""Without a state store (or while it cannot be reached): each router replica takes its
share of every model's limits.

The share is 1/N of each limit, N being the live members of the routing consumer group,
read from the group coordinator (DescribeGroups) at start and then every
`interval_s` — so it follows the rebalances that add or remove a replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.state.wiring import RouterState

__all__ = ["follow_group_size", "group_size"]

log = structlog.get_logger("llmrouter.workers")


def _members(response: Any, group_id: str) -> int | None:
    for group in getattr(response, "groups", ()):
        # (error_code, group_id, state, protocol_type, protocol, members, ...)
        if group[1] == group_id and group[0] == 0:
            return len(group[5])
    return None


async def group_size(admin: AIOKafkaAdminClient, group_id: str) -> int | None:
    """Live members of `group_id`, or None when the coordinator did not say."""
    try:
        responses = await admin.describe_consumer_groups([group_id])
    except KafkaError as exc:
        log.warning("could not read the consumer group's size", group=group_id, error=str(exc))
        return None
    for response in responses:
        found = _members(response, group_id)
        if found is not None:
            return found
    return None


async def follow_group_size(
    state: RouterState,
    kafka: KafkaSettings,
    group_id: str,
    stop: asyncio.Event,
    *,
    interval_s: float = 5.0,
) -> None:
    """Keep `state`'s per-process limiters at 1/N of each limit until `stop` is set."""
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    current = 0
    try:  # closed however this ends, a cancel during start-up included
        try:
            await admin.start()
        except KafkaError as exc:
            log.warning("limits stay whole: no admin connection", error=str(exc))
            return
        while not stop.is_set():
            size = await group_size(admin, group_id)
            if size and size != current:
                state.set_replicas(size)
                log.info(
                    "this replica's share of each model's limits"
                    + (" (applied while the state store is unreachable)" if state.shared else ""),
                    group=group_id,
                    replicas=size,
                    share=f"1/{size}",
                )
                current = size
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()

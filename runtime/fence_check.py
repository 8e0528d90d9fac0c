"""Telling a real fence from a transaction the coordinator aborted on timeout.

aiokafka reports both as ProducerFenced (it maps INVALID_PRODUCER_EPOCH to it too): the
coordinator aborts a transaction that outlived `transaction_timeout_ms` by bumping the
producer epoch, exactly as a newer producer with the same transactional id does. Stopping
on the first would stop a healthy but overloaded worker. So:

- the failed transaction was at least as old as its timeout: the coordinator aborted it;
  abort, start a fresh producer, retry;
- otherwise, look at the consumer group for another live member announcing the same
  transactional id (each worker's client id is its transactional id). Found: another
  process really holds the id, and this one stops. Not found within the wait: retry with
  a fresh producer (which fences whatever stale producer bumped the epoch).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from llmrouter.kafkaio.settings import KafkaSettings

__all__ = ["other_holder_alive", "outlived_timeout"]

log = structlog.get_logger("llmrouter.runtime")


def outlived_timeout(age_s: float, transaction_timeout_ms: int) -> bool:
    """Whether a transaction of this age may have been aborted by its coordinator."""
    return age_s * 1000 >= transaction_timeout_ms * 0.9


async def other_holder_alive(
    kafka: KafkaSettings,
    group_id: str,
    client_id: str,
    own_member_id: Callable[[], str | None],
    *,
    wait_s: float,
    poll_s: float = 0.5,
) -> bool:
    """Whether another member of `group_id` with `client_id` shows up within `wait_s`
    (a newer instance fences us while starting, and joins the group moments later).
    `own_member_id` is asked each time: our own member id changes when we rejoin."""
    deadline = time.monotonic() + wait_s
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    try:
        await admin.start()
        while True:
            groups = await admin.describe_consumer_groups([group_id])
            if _holders(groups, client_id, own_member_id()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(poll_s)
    except KafkaError as exc:
        log.warning("cannot describe the consumer group", group=group_id, error=repr(exc))
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _holders(responses: list[Any], client_id: str, own_member_id: str | None) -> list[str]:
    found = []
    for response in responses:
        for group in response.groups:
            members = group[5]
            for member in members:
                member_id, member_client_id = member[0], member[1]
                if member_client_id == client_id and member_id != own_member_id:
                    found.append(member_id)
    return found

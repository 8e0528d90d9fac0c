"""Committed offsets that include every transaction already committed: OffsetFetch v7 with
`require_stable`.

aiokafka 0.14 fetches committed offsets with OffsetFetch v3, which answers with the last
*stable* offset and ignores offsets a transaction has committed whose markers are still
being written. A partition handed to another process just after the old owner's commit
would then be read from the older offset, and its records processed — and published — a
second time. With `require_stable` the group coordinator answers UNSTABLE_OFFSET_COMMIT
for such a partition instead, and we ask again until the transaction has resolved (it
commits in milliseconds; an abandoned one is aborted at its timeout).

aiokafka builds flexible-version requests from its protocol classes, so the request is
declared here with them and sent to the group's coordinator over aiokafka's coordination
connection.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.client import ConnectionGroup, CoordinationType
from aiokafka.errors import KafkaError
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import KafkaUnavailable

__all__ = ["StableOffsetFetch", "fetch_stable_offsets"]

_NONE = 0
_COORDINATOR_LOAD_IN_PROGRESS = 14
_COORDINATOR_NOT_AVAILABLE = 15
_NOT_COORDINATOR = 16
_UNKNOWN_TOPIC_OR_PARTITION = 3
_UNSTABLE_OFFSET_COMMIT = 88
_RETRY = {_COORDINATOR_LOAD_IN_PROGRESS, _COORDINATOR_NOT_AVAILABLE, _NOT_COORDINATOR}


class _OffsetFetchResponse_v7(Response):  # type: ignore[misc]
    API_KEY = 9
    API_VERSION = 7
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32),
                        ("committed_offset", Int64),
                        ("committed_leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("error_code", Int16),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("error_code", Int16),
        ("tags", TaggedFields),
    )


class _OffsetFetchRequest_v7(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 7
    RESPONSE_TYPE = _OffsetFetchResponse_v7
    SCHEMA = Schema(
        ("group_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("partition_indexes", CompactArray(Int32)),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


class StableOffsetFetch(Request[_OffsetFetchRequest_v7]):  # type: ignore[misc]
    """OffsetFetch v7 for some partitions of one group, with `require_stable` set."""

    API_KEY = 9

    def __init__(self, group_id: str, partitions: Iterable[TopicPartition]) -> None:
        by_topic: dict[str, list[int]] = collections.defaultdict(list)
        for tp in partitions:
            by_topic[tp.topic].append(tp.partition)
        self._group_id = group_id
        self._topics: list[tuple[str, list[int], dict[int, bytes]]] = [
            (topic, sorted(ps), {}) for topic, ps in sorted(by_topic.items())
        ]

    def build(self, request_struct_class: type[_OffsetFetchRequest_v7]) -> _OffsetFetchRequest_v7:
        return request_struct_class(self._group_id, self._topics, True, {})


async def fetch_stable_offsets(
    consumer: AIOKafkaConsumer,
    group_id: str,
    partitions: Iterable[TopicPartition],
    *,
    timeout_s: float = 60.0,
    retry_s: float = 0.1,
) -> dict[TopicPartition, OffsetAndMetadata | None]:
    """The committed offset and metadata of each partition (None: nothing committed), once
    no transaction that commits offsets for it is still in progress. `group_id` is the
    consumer's own group or another one (its coordinator is looked up on each try).

    Waits while a transaction is pending (UNSTABLE_OFFSET_COMMIT) or the coordinator
    moves; raises KafkaUnavailable after `timeout_s`."""
    pending = set(partitions)
    found: dict[TopicPartition, OffsetAndMetadata | None] = {}
    deadline = time.monotonic() + timeout_s
    own_group = group_id == consumer._group_id
    coordinator: Any = consumer._coordinator
    client: Any = consumer._client
    last_problem = ""
    while pending:
        if time.monotonic() > deadline:
            raise KafkaUnavailable(
                f"committed offsets of group {group_id} not stable within {timeout_s:.0f}s"
                f" ({last_problem or 'no answer'})"
            )
        try:
            if own_group:
                await coordinator.ensure_coordinator_known()
                node_id = coordinator.coordinator_id
            else:
                node_id = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
            response = await client.send(
                node_id, StableOffsetFetch(group_id, pending), group=ConnectionGroup.COORDINATION
            )
        except KafkaError as exc:
            last_problem = repr(exc)
            await asyncio.sleep(retry_s)
            continue
        top_error = response.error_code
        if top_error != _NONE:
            last_problem = f"error code {top_error}"
            if top_error in _RETRY:
                if own_group:
                    coordinator.coordinator_dead()
                await asyncio.sleep(retry_s)
                continue
            raise KafkaUnavailable(
                f"cannot fetch committed offsets of group {group_id}: error code {top_error}"
            )
        for topic, topic_partitions, _tags in response.topics:
            for partition, offset, _epoch, metadata, error, _ptags in topic_partitions:
                tp = TopicPartition(topic, partition)
                if error == _NONE:
                    found[tp] = OffsetAndMetadata(offset, metadata or "") if offset >= 0 else None
                    pending.discard(tp)
                elif error == _UNKNOWN_TOPIC_OR_PARTITION:
                    found[tp] = None
                    pending.discard(tp)
                elif error == _UNSTABLE_OFFSET_COMMIT or error in _RETRY:
                    last_problem = f"{tp.topic}[{tp.partition}] error code {error}"
                    if error in _RETRY and own_group:
                        coordinator.coordinator_dead()
                else:
                    raise KafkaUnavailable(
                        f"cannot fetch the committed offset of {tp.topic}[{tp.partition}]"
                        f" for group {group_id}: error code {error}"
                    )
        if pending:
            await asyncio.sleep(retry_s)
    return found

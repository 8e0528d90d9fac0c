"""Transactional offset commits that the group coordinator rejects from a stale member
(TxnOffsetCommit v3: group generation and member id, as in KIP-447).

aiokafka 0.14 sends TxnOffsetCommit v0, which names no generation: a worker thrown out of
its group while alive (its event loop stalled past the session timeout) would go on
committing outputs and offsets for partitions the group already gave to another process,
until its next heartbeat tells it — and both would publish the same records. With the
consumer's generation and member id in the request, the coordinator answers
ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID instead, the transaction becomes abortable, and
nothing of it is published.

`bind_group_membership` makes one transactional producer send v3 with the generation of
one consumer (the request classes are declared here with aiokafka's protocol types and
the producer's sender uses them instead of its own).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka import errors as ak
from aiokafka.producer.sender import CoordinationType, TxnOffsetCommitHandler
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

__all__ = ["StaleGroupMember", "bind_group_membership"]

_STALE = {22, 25, 82}  # ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID
_RETRY_COORDINATOR = {7, 15, 16}  # request timed out, coordinator not available / moved
_RETRY = {3, 14}  # unknown topic or partition, coordinator loading
_FENCED = {47, 90}  # INVALID_PRODUCER_EPOCH, PRODUCER_FENCED


class StaleGroupMember(ak.CommitFailedError):  # type: ignore[misc]
    """The consumer is no longer the group member that owns the partitions."""


class _TxnOffsetCommitResponse_v3(Response):  # type: ignore[misc]
    API_KEY = 28
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("name", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition_index", Int32), ("error_code", Int16), ("tags", TaggedFields)
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _TxnOffsetCommitRequest_v3(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 28
    API_VERSION = 3
    RESPONSE_TYPE = _TxnOffsetCommitResponse_v3
    SCHEMA = Schema(
        ("transactional_id", CompactString("utf-8")),
        ("group_id", CompactString("utf-8")),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("generation_id", Int32),
        ("member_id", CompactString("utf-8")),
        ("group_instance_id", CompactString("utf-8")),
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
                        ("committed_metadata", CompactString("utf-8")),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _GenerationTxnOffsetCommit(Request[_TxnOffsetCommitRequest_v3]):  # type: ignore[misc]
    API_KEY = 28

    def __init__(self, *fields: Any) -> None:
        self._fields = fields

    def build(
        self, request_struct_class: type[_TxnOffsetCommitRequest_v3]
    ) -> _TxnOffsetCommitRequest_v3:
        return request_struct_class(*self._fields)


Membership = Callable[[], tuple[int, str]]


class _Handler(TxnOffsetCommitHandler):  # type: ignore[misc]
    def __init__(self, sender: Any, offsets: Any, group_id: str, membership: Membership) -> None:
        super().__init__(sender, offsets, group_id)
        self._membership = membership

    def create_request(self) -> _GenerationTxnOffsetCommit:
        txn = self._sender._txn_manager
        generation, member_id = self._membership()
        by_topic: dict[str, list[Any]] = collections.defaultdict(list)
        for tp, offset in sorted(self._offsets.items()):
            by_topic[tp.topic].append((tp.partition, offset.offset, -1, offset.metadata, {}))
        topics: list[Any] = [(topic, parts, {}) for topic, parts in by_topic.items()]
        return _GenerationTxnOffsetCommit(
            txn.transactional_id,
            self._group_id,
            txn.producer_id,
            txn.producer_epoch,
            generation,
            member_id,
            None,
            topics,
            {},
        )

    def handle_response(self, resp: Any) -> float | None:
        txn = self._sender._txn_manager
        for topic, partitions, _tags in resp.topics:
            for partition, code, _ptags in partitions:
                tp = TopicPartition(topic, partition)
                if code == 0:
                    txn.offset_committed(tp, self._offsets[tp].offset, self._group_id)
                elif code in _STALE:
                    txn.error_transaction(
                        StaleGroupMember(f"group {self._group_id}: not the owner (error {code})")
                    )
                    return None
                elif code in _RETRY_COORDINATOR:
                    self._sender._coordinator_dead(CoordinationType.GROUP)
                    return float(self._default_backoff)
                elif code in _RETRY:
                    return float(self._default_backoff)
                elif code in _FENCED:
                    raise ak.ProducerFenced()
                else:
                    raise ak.for_code(code)()
        return None


def bind_group_membership(producer: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> None:
    """Make `producer`'s transactional offset commits carry `consumer`'s group generation
    and member id, so the coordinator refuses them once the consumer lost its partitions."""
    sender: Any = producer._sender

    def membership() -> tuple[int, str]:
        coordinator: Any = consumer._coordinator
        return int(coordinator.generation), str(coordinator.member_id)

    async def _do_txn_offset_commit(offsets: Any, group_id: str) -> None:
        if not offsets:
            return
        try:
            node_id = await sender._find_coordinator(CoordinationType.GROUP, group_id)
        except ak.GroupAuthorizationFailedError as exc:
            sender._txn_manager.error_transaction(exc)
            return
        generation, _member = membership()
        if generation < 0:  # thrown out of the group already: do not even ask
            sender._txn_manager.error_transaction(
                StaleGroupMember(f"group {group_id}: this consumer is not a member")
            )
            return
        await _Handler(sender, offsets, group_id, membership).do(node_id)

    sender._do_txn_offset_commit = _do_txn_offset_commit

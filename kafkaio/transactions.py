"""The one transactional produce-and-commit sequence: every worker and the replay use it.

    begin ──► send each message ──► send_offsets_to_transaction ──► commit (EndTxn)
       └──────────── any failure or cancellation: abort, then re-raise ───────┘

Either every message and the consumer offsets (with their metadata) become visible to
read_committed readers together, or none of them does. A failed abort is not reported:
the next `init_transactions` under the same transactional id (a fresh producer) aborts
whatever was left open, and so does the transaction coordinator once the transaction
outlives `transaction_timeout_ms`.

Which of the two happened is known, except in one case. A failure before EndTxn(commit)
was requested leaves the transaction open or aborted: it never commits. A failure once it
was requested (a timeout, a lost connection, a cancellation) may come after the
coordinator committed: aiokafka carries the request on even when its caller gives up.
Then `TransactionClock.outcome_unknown` stays set, and the caller must find out — once a
fresh producer has fenced this one, so nothing more can happen to the transaction — by
reading the committed offsets back (kafkaio/stable_offsets.py) before it publishes the
same outputs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors
from llmrouter.kafkaio.settings import KafkaSettings

__all__ = ["Output", "TransactionClock", "commit_transaction", "start_transactional_producer"]


@dataclass(frozen=True, slots=True)
class Output:
    """One message to publish inside a transaction: what a worker's handler returns for a
    record, and what the replay republishes."""

    topic: str
    value: bytes
    key: bytes | None = None
    #: Kafka record headers, e.g. the W3C trace context of the request
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class TransactionClock:
    """When the transaction in progress (or the last one, if it failed) began, monotonic s:
    a failure can then be told apart as "it outlived its timeout" (the coordinator aborted
    it) or not; and whether the last one failed with its outcome unknown."""

    started_at: float | None = None
    #: EndTxn(commit) was requested and the transaction neither committed for sure nor
    #: was aborted for sure: it may have committed
    outcome_unknown: bool = False

    def age_s(self, now: float | None = None) -> float:
        if self.started_at is None:
            return 0.0
        return (time.monotonic() if now is None else now) - self.started_at


async def start_transactional_producer(
    kafka: KafkaSettings,
    transactional_id: str,
    *,
    transaction_timeout_ms: int = 60_000,
    linger_ms: int = 5,
    max_request_size: int = 1_048_576,
    who: str = "llmrouter",
) -> AIOKafkaProducer:
    """A started producer holding `transactional_id`. Starting it (init_transactions) fences
    any older producer with the same id and completes or aborts what that one left open.
    `max_request_size` caps one record (the brokers' `message.max.bytes` is the real cap)."""
    producer = AIOKafkaProducer(
        **kafka.client_kwargs(),
        transactional_id=transactional_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        transaction_timeout_ms=transaction_timeout_ms,
        max_request_size=max_request_size,
    )
    try:
        with kafka_errors(f"{who}: cannot start the transactional producer"):
            await producer.start()
    except KafkaUnavailable:
        with contextlib.suppress(Exception):
            await producer.stop()
        raise
    return producer


async def commit_transaction(
    producer: AIOKafkaProducer,
    outputs: Iterable[Output],
    offsets: Mapping[TopicPartition, OffsetAndMetadata | int],
    group_id: str,
    *,
    clock: TransactionClock | None = None,
    abort_timeout_s: float = 10.0,
) -> None:
    """Publish `outputs` and commit `offsets` for `group_id`: all visible, or none.

    aiokafka carries each offset's metadata string into TxnOffsetCommit unchanged, so a
    reader of the group's committed offsets sees exactly what was committed here. Raises
    what aiokafka raises (after aborting, for at most `abort_timeout_s`); the caller
    decides whether to retry — after resolving the outcome when `clock.outcome_unknown`."""
    track = clock if clock is not None else TransactionClock()
    track.outcome_unknown = False
    await producer.begin_transaction()
    track.started_at = time.monotonic()
    try:
        for output in outputs:
            headers = list(output.headers) or None
            await producer.send(output.topic, output.value, key=output.key, headers=headers)
        if offsets:
            await producer.send_offsets_to_transaction(dict(offsets), group_id)
        # from here on the coordinator may commit, whatever becomes of this call
        track.outcome_unknown = True
        await producer.commit_transaction()
    except BaseException:
        # Cancelled (shutdown, Ctrl-C) or failed. Before EndTxn(commit) nothing of it
        # becomes visible, and the records are processed again by whoever owns them next.
        # `clock` keeps the start time so the caller can tell how old the failed
        # transaction was. An abort that succeeds settles the outcome: not committed.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(abort_timeout_s):
                await producer.abort_transaction()
            track.outcome_unknown = False
        raise
    track.started_at = None
    track.outcome_unknown = False

"""The Kafka runtime shared by every worker: consume concurrently, publish exactly once.

    fetch ──► handler tasks (up to max_in_flight, across and within partitions)
                 │ outputs, or an exception the error policy turns into outputs
                 ▼
    PartitionLedger per partition ──► flush: one transaction per batch holding the
                                      outputs of each partition's finished prefix and the
                                      consumer offsets after it (send_offsets_to_transaction)

At-least-once consumption, exactly-once publication: a crash before a commit aborts the
transaction (nothing of it is visible to read_committed readers) and the records are
processed again; a committed transaction moved the offsets past its records atomically.

Why not FastStream's subscriber runtime here: its ack policies commit one message at a
time and it has no transactional producer, so neither atomic output+offset commits nor
prefix commits over concurrent in-partition work can be expressed with it. The apps are
still declared with FastStream (workers/apps.py) for their AsyncAPI description and for
in-memory tests; this module is what runs them against a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, ProducerFenced

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafka.errors import kafka_errors, translate_kafka_error
from llmrouter.kafka.settings import KafkaSettings
from llmrouter.workers.ledger import PartitionLedger
from llmrouter.workers.metrics import METRICS

__all__ = ["Output", "RuntimeStats", "TransactionalWorker", "WorkerOptions"]

log = structlog.get_logger("llmrouter.runtime")


@dataclass(frozen=True, slots=True)
class Output:
    """One message to publish."""

    topic: str
    value: bytes
    key: bytes | None = None


Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[Sequence[Output]]]
ErrorPolicy = Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    group_id: str
    pattern: str
    transactional_id: str
    max_in_flight: int = 256
    flush_interval_s: float = 0.02
    grace_s: float = 30.0
    rebalance_grace_s: float = 5.0
    #: how soon topics created later are noticed by the pattern subscription
    metadata_max_age_ms: int = 30_000
    #: an open transaction of a crashed process blocks read_committed readers this long
    #: (unless a process with the same transactional_id starts and fences it at once)
    transaction_timeout_ms: int = 15_000
    max_poll_records: int = 500
    session_timeout_ms: int = 10_000


@dataclass
class RuntimeStats:
    processed: int = 0
    committed: int = 0
    transactions: int = 0
    failed_transactions: int = 0
    #: time a finished record waited for earlier ones of its partition (head of line), s
    hold_s: list[float] = field(default_factory=list)

    def record_hold(self, values: list[float]) -> None:
        self.hold_s.extend(values)
        if len(self.hold_s) > 100_000:
            del self.hold_s[: len(self.hold_s) - 50_000]


class TransactionalWorker:
    def __init__(
        self,
        options: WorkerOptions,
        kafka: KafkaSettings,
        handler: Handler,
        on_error: ErrorPolicy,
    ) -> None:
        self.options = options
        self._kafka = kafka
        self._handler = handler
        self._on_error = on_error
        self._ledgers: dict[TopicPartition, PartitionLedger[Output]] = {}
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._flush_lock = asyncio.Lock()
        self._wake_flush = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._paused = False
        self._probe_lock = asyncio.Lock()
        self._closed = False
        self.stats = RuntimeStats()
        self.assigned: set[TopicPartition] = set()
        self.started_at = self.last_record_at = self.last_commit_at = time.monotonic()
        self.fatal: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        o = self.options
        kwargs = self._kafka.client_kwargs()
        self._producer = await self._new_producer()
        self._consumer = AIOKafkaConsumer(
            **kwargs,
            group_id=o.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            metadata_max_age_ms=o.metadata_max_age_ms,
            max_poll_records=o.max_poll_records,
            session_timeout_ms=o.session_timeout_ms,
            heartbeat_interval_ms=max(500, o.session_timeout_ms // 4),
        )
        try:
            with kafka_errors(f"{o.name}: cannot connect to Kafka"):
                await self._consumer.start()
        except KafkaUnavailable:
            await self._producer.stop()
            raise
        self._consumer.subscribe(pattern=o.pattern, listener=_Rebalance(self))
        log.info("worker started", worker=o.name, group=o.group_id, pattern=o.pattern)

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **self._kafka.client_kwargs(),
            transactional_id=self.options.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            transaction_timeout_ms=self.options.transaction_timeout_ms,
        )
        with kafka_errors(f"{self.options.name}: cannot start the transactional producer"):
            await producer.start()  # init_transactions: fences an older self, aborts its txn
        return producer

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, then drain in-flight work and commit it."""
        assert self._consumer is not None
        flusher = asyncio.create_task(self._flush_loop(stop), name=f"{self.options.name}-flush")
        try:
            while not stop.is_set() and self.fatal is None:
                self._apply_backpressure()
                batch = await self._consumer.getmany(
                    timeout_ms=100, max_records=max(1, self._capacity())
                )
                if batch:
                    self.last_record_at = time.monotonic()
                for tp, records in batch.items():
                    self._dispatch(tp, records)
        finally:
            await self._drain()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._close()
        if self.fatal is not None:
            raise self.fatal

    async def _drain(self) -> None:
        tasks = [t for ts in self._tasks.values() for t in ts]
        if tasks:
            log.info("draining", worker=self.options.name, in_flight=len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=self.options.grace_s)
            if pending:
                # Not committed, so not lost: whoever owns the partition next redoes them.
                log.warning(
                    "grace period over; abandoning in-flight records to redelivery",
                    worker=self.options.name,
                    abandoned=len(pending),
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._flush()

    async def _close(self) -> None:
        # Wait out a readiness probe using the consumer, then keep new ones off it: a probe
        # racing consumer.stop() opens a connection after the client closed them all.
        async with self._probe_lock:
            self._closed = True
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
        log.info("worker stopped", worker=self.options.name, **self._summary())

    def _summary(self) -> dict[str, int]:
        s = self.stats
        return {"processed": s.processed, "committed": s.committed, "transactions": s.transactions}

    # -- consuming ----------------------------------------------------------------------

    def _uncommitted(self) -> int:
        return sum(ledger.uncommitted for ledger in self._ledgers.values())

    def _capacity(self) -> int:
        return min(self.options.max_poll_records, self.options.max_in_flight - self._uncommitted())

    def _apply_backpressure(self) -> None:
        assert self._consumer is not None
        full = self._capacity() <= 0
        if full and not self._paused:
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True
        elif not full and self._paused:
            self._consumer.resume(*self._consumer.assignment())
            self._paused = False

    def _dispatch(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        ledger = self._ledgers.get(tp)
        if ledger is None:
            ledger = self._ledgers[tp] = PartitionLedger()
        tasks = self._tasks.setdefault(tp, set())
        for record in records:
            ledger.add(record.offset)
            task = asyncio.create_task(self._process(ledger, record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _process(
        self, ledger: PartitionLedger[Output], record: ConsumerRecord[bytes, bytes]
    ) -> None:
        try:
            outputs = await self._handler(record)
        except Exception as exc:  # the error policy decides: failed result, dead letter
            outputs = self._on_error(record, exc)
        if ledger.finish(record.offset, outputs):
            self.stats.processed += 1
            self._wake_flush.set()

    # -- publishing ----------------------------------------------------------------------

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        backoff_s = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_flush.wait(), timeout=1.0)
            self._wake_flush.clear()
            # A short pause batches the results that finish together into one transaction.
            await asyncio.sleep(self.options.flush_interval_s)
            try:
                await self._flush()
                backoff_s = 0.1
            except ProducerFenced as exc:
                # Another process took our transactional id: we are the zombie. Stop.
                self.fatal = translate_kafka_error(exc, f"{self.options.name}: fenced")
                log.error("fenced; stopping", worker=self.options.name, error=str(exc))
                stop.set()
                return
            except Exception as exc:  # broker restart, timeouts: keep the outputs, retry
                self.stats.failed_transactions += 1
                METRICS.transactions.labels(self.options.name, "failed").inc()
                log.warning(
                    "transaction failed; will retry", worker=self.options.name, error=repr(exc)
                )
                await self._reset_producer()
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
                self._wake_flush.set()

    async def _flush(self) -> None:
        async with self._flush_lock:
            batch: list[Output] = []
            offsets: dict[TopicPartition, int] = {}
            holds: list[float] = []
            for tp, ledger in self._ledgers.items():
                outputs, next_offset, finished = ledger.committable()
                if next_offset is not None:
                    batch.extend(outputs)
                    offsets[tp] = next_offset
                    holds.extend(finished)
            if not offsets:
                return
            producer = self._producer
            assert producer is not None
            await producer.begin_transaction()
            try:
                for out in batch:
                    await producer.send(out.topic, out.value, key=out.key)
                await producer.send_offsets_to_transaction(offsets, self.options.group_id)
                await producer.commit_transaction()
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.abort_transaction()
                raise
            now = time.monotonic()
            self.stats.record_hold([now - t for t in holds])
            for tp, next_offset in offsets.items():
                self._ledgers[tp].commit(next_offset)
            self.stats.transactions += 1
            self.stats.committed += len(holds)
            self.last_commit_at = now
            METRICS.transactions.labels(self.options.name, "committed").inc()

    async def _reset_producer(self) -> None:
        """A producer whose transaction failed may be unusable; a new one with the same id
        fences the old and aborts whatever it left open."""
        old = self._producer
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()
        try:
            self._producer = await self._new_producer()
        except KafkaUnavailable as exc:
            log.warning("producer restart failed; will retry", error=str(exc))

    # -- rebalances ----------------------------------------------------------------------

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Give in-flight work a moment, commit what finished, hand over the rest."""
        tasks = [t for tp in revoked for t in self._tasks.get(tp, ())]
        if tasks:
            await asyncio.wait(tasks, timeout=self.options.rebalance_grace_s)
        try:
            await self._flush()
        except Exception as exc:  # the new owner redoes anything not committed
            log.warning("commit on revoke failed", worker=self.options.name, error=repr(exc))
        abandoned = 0
        for tp in revoked:
            ledger = self._ledgers.pop(tp, None)
            if ledger is not None:
                ledger.closed = True
                abandoned += ledger.uncommitted
            for task in self._tasks.pop(tp, set()):
                task.cancel()
        self.assigned.difference_update(revoked)
        log.info(
            "partitions revoked",
            worker=self.options.name,
            partitions=len(revoked),
            handed_over_uncommitted=abandoned,
        )

    def on_assigned(self, assigned: list[TopicPartition]) -> None:
        self.assigned.update(assigned)
        if self._paused and self._consumer is not None:
            self._consumer.pause(*assigned)
        log.info("partitions assigned", worker=self.options.name, partitions=len(assigned))

    @property
    def in_flight(self) -> int:
        return sum(ledger.in_flight for ledger in self._ledgers.values())

    @property
    def uncommitted(self) -> int:
        return self._uncommitted()

    async def sample_lag(self, timeout_s: float) -> dict[tuple[str, int], int] | None:
        """Records behind the (last stable) end of each assigned partition; None when
        Kafka did not answer within `timeout_s` — which is also the readiness probe."""
        consumer = self._consumer
        if consumer is None or self._closed:
            return None
        partitions = list(self.assigned)
        try:
            async with self._probe_lock, asyncio.timeout(timeout_s):
                if self._closed:
                    return None
                if not partitions:
                    await consumer._client.fetch_all_metadata()
                    return {}
                ends = await consumer.end_offsets(partitions)
                lag = {}
                for tp in partitions:
                    position = await consumer.position(tp)
                    lag[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
                return lag
        except (TimeoutError, KafkaError, AssertionError):
            # AssertionError: the partition was revoked while we looked
            return None

    def describe(self) -> dict[str, Any]:
        return {
            "worker": self.options.name,
            "assigned": len(self.assigned),
            "in_flight": self.in_flight,
            "uncommitted": self._uncommitted(),
            **self._summary(),
        }


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: TransactionalWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._worker.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._worker.on_assigned(list(assigned))

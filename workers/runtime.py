"""The Kafka runtime shared by every worker: consume concurrently, publish exactly once.

    assignment ──► stable committed offset + done-offsets record (OffsetFetch v7,
                   require_stable) ──► seek; records a previous owner published are skipped
    fetch ──► handler tasks (up to max_in_flight, across and within partitions)
                 │ outputs, or an exception the error policy turns into outputs
                 ▼
    PartitionProgress per partition ──► flush: one transaction per batch holding every
                 finished record's outputs, and per partition the offset of its first
                 record still in flight with, as metadata, which records above it are done

At-least-once consumption, exactly-once publication: a crash before a commit aborts the
transaction (nothing of it is visible to read_committed readers) and its records are
processed again by the next owner; a committed transaction published its records'
outputs and recorded them as done atomically, so the next owner skips exactly those.
See workers/progress.py and workers/done_offsets.py for the book-keeping and its format.

Why not FastStream's subscriber runtime here: its ack policies commit one message at a
time and it has no transactional producer, so neither atomic output+offset commits nor
commits over concurrent in-partition work can be expressed with it. The apps are still
declared with FastStream (workers/declaration.py) for their AsyncAPI description; this
module is what runs them against a real cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors
from llmrouter.kafkaio.group_offset_commit import bind_group_membership
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import TransactionClock
from llmrouter.workers.assignment import Adopter
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.options import ErrorPolicy, Handler, Output, RuntimeStats, WorkerOptions
from llmrouter.workers.progress import PartitionProgress
from llmrouter.workers.publishing import Publisher

__all__ = ["Output", "RuntimeStats", "TransactionalWorker", "WorkerOptions"]

log = structlog.get_logger("llmrouter.runtime")


class TransactionalWorker(Publisher, Adopter):
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
        self._progress: dict[TopicPartition, PartitionProgress[Output]] = {}
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        #: assigned partitions whose committed offsets are still being read, with the
        #: serial number of the assignment (a newer one makes an older answer stale)
        self._adopting: dict[TopicPartition, int] = {}
        self._assignments = 0
        self._adopter: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._wake_flush = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._clock = TransactionClock()
        self._paused: set[TopicPartition] = set()
        self._probe_lock = asyncio.Lock()
        self._closed = False
        self.stats = RuntimeStats()
        self.assigned: set[TopicPartition] = set()
        self.started_at = self.last_record_at = self.last_commit_at = time.monotonic()
        self.fatal: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        o = self.options
        self._producer = await self._new_producer()
        self._consumer = AIOKafkaConsumer(
            **self._kafka.client_kwargs(),
            # the transactional id, so a fenced worker can see who else holds it
            client_id=o.transactional_id,
            group_id=o.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            metadata_max_age_ms=o.metadata_max_age_ms,
            max_poll_records=o.max_poll_records,
            session_timeout_ms=o.session_timeout_ms,
            heartbeat_interval_ms=max(500, o.session_timeout_ms // 4),
        )
        # offsets committed by a consumer that lost its partitions are refused
        bind_group_membership(self._producer, self._consumer)
        try:
            with kafka_errors(f"{o.name}: cannot connect to Kafka"):
                await self._consumer.start()
        except KafkaUnavailable:
            await self._producer.stop()
            raise
        self._consumer.subscribe(pattern=o.pattern, listener=_Rebalance(self))
        log.info("worker started", worker=o.name, group=o.group_id, pattern=o.pattern)

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
                # getmany does not suspend while records are buffered: yield, so the new
                # tasks take their first steps (and heartbeats get their turn) before the
                # next batch, instead of thousands of tasks starting in one burst.
                await asyncio.sleep(0)
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
        if self.fatal is None:
            with contextlib.suppress(Exception):
                await self._flush()

    async def abandon(self) -> None:
        """Close a started worker that will not run (another one failed to start)."""
        await self._close()

    async def _close(self) -> None:
        # Wait out a readiness probe using the consumer, then keep new ones off it: a probe
        # racing consumer.stop() opens a connection after the client closed them all.
        async with self._probe_lock:
            self._closed = True
        if self._adopter is not None:
            self._adopter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._adopter
        # bounded: a client that cannot reach Kafka must not keep the process alive
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.options.grace_s):
                    await self._consumer.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.options.grace_s):
                    await self._producer.stop()
        log.info("worker stopped", worker=self.options.name, **self._summary())

    def _summary(self) -> dict[str, int]:
        s = self.stats
        return {
            "processed": s.processed,
            "committed": s.committed,
            "transactions": s.transactions,
            "skipped": s.skipped,
        }

    # -- consuming ----------------------------------------------------------------------

    def _capacity(self) -> int:
        """Records we may take on now: in-flight and finished-but-unpublished ones hold
        memory; published ones behind a stuck record hold a few bytes each."""
        busy = sum(p.in_flight + p.unpublished for p in self._progress.values())
        tracked = sum(p.tracked for p in self._progress.values())
        o = self.options
        return min(o.max_poll_records, o.max_in_flight - busy, o.max_tracked - tracked)

    def _apply_backpressure(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        assigned = consumer.assignment()
        wanted = set(assigned) if self._capacity() <= 0 else self._adopting.keys() & assigned
        self._paused &= assigned
        if wanted - self._paused:
            consumer.pause(*(wanted - self._paused))
        if self._paused - wanted:
            consumer.resume(*(self._paused - wanted))
        self._paused = wanted

    def _dispatch(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        progress = self._progress.get(tp)
        if progress is None:  # not adopted yet: its offsets are read again after the seek
            return
        tasks = self._tasks.setdefault(tp, set())
        skipped = 0
        for record in records:
            verdict = progress.accept(record.offset)
            if verdict is None:
                continue
            if not verdict:
                skipped += 1
                continue
            task = asyncio.create_task(self._process(progress, record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if skipped:
            self.stats.skipped += skipped
            METRICS.skipped_done.labels(self.options.name).inc(skipped)
            self._wake_flush.set()

    async def _process(
        self, progress: PartitionProgress[Output], record: ConsumerRecord[bytes, bytes]
    ) -> None:
        try:
            outputs = await self._handler(record)
        except Exception as exc:  # the error policy decides: failed result, dead letter
            if _abandoned():
                raise asyncio.CancelledError from exc
            outputs = self._on_error(record, exc)
        if _abandoned():  # handed over or shut down: the next owner processes it
            raise asyncio.CancelledError
        if progress.finish(record.offset, outputs):
            self.stats.processed += 1
            self._wake_flush.set()

    # -- rebalances ----------------------------------------------------------------------

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Give in-flight work a moment, commit what finished, hand over the rest."""
        tasks = [t for tp in revoked for t in self._tasks.get(tp, ())]
        if tasks:
            await asyncio.wait(tasks, timeout=self.options.rebalance_grace_s)
        if self.fatal is None:
            try:
                await self._flush()
            except Exception as exc:  # the new owner redoes anything not committed
                log.warning("commit on revoke failed", worker=self.options.name, error=repr(exc))
        abandoned = 0
        async with self._flush_lock:  # no transaction may still carry the revoked ones
            for tp in revoked:
                progress = self._progress.pop(tp, None)
                if progress is not None:
                    progress.closed = True
                    abandoned += progress.in_flight + progress.unpublished
                for task in self._tasks.pop(tp, set()):
                    task.cancel()
        self.assigned.difference_update(revoked)
        for tp in revoked:
            self._adopting.pop(tp, None)
        log.info(
            "partitions revoked",
            worker=self.options.name,
            partitions=len(revoked),
            handed_over_uncommitted=abandoned,
        )

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self._progress.values())

    @property
    def uncommitted(self) -> int:
        return sum(p.in_flight + p.unpublished for p in self._progress.values())

    async def sample_lag(self, timeout_s: float) -> dict[tuple[str, int], int] | None:
        """Records behind the (last stable) end of each assigned partition; None when
        Kafka did not answer within `timeout_s` — which is also the readiness probe."""
        consumer = self._consumer
        if consumer is None or self._closed:
            return None
        partitions = [tp for tp in self.assigned if tp in self._progress]
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

    @property
    def handler(self) -> Handler:
        return self._handler

    def has_topic(self, topic: str) -> bool:
        """Whether the consumer's cluster metadata lists `topic` (under a pattern
        subscription the metadata holds every topic of the cluster)."""
        consumer = self._consumer
        return consumer is not None and topic in consumer._client.cluster.topics()

    def describe(self) -> dict[str, Any]:
        return {
            "worker": self.options.name,
            "assigned": len(self.assigned),
            "in_flight": self.in_flight,
            "uncommitted": self.uncommitted,
            **self._summary(),
        }


def _abandoned() -> bool:
    """Whether the current record's task was cancelled, even if a handler turned the
    cancellation into another exception or swallowed it: its outputs must not be
    published, since whoever owns the partition next processes the record again."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: TransactionalWorker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._worker.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._worker.on_assigned(list(assigned))

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import InvalidProducerEpoch, KafkaError, ProducerFenced
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import KafkaFenced, KafkaUnavailable
from llmrouter.kafka.errors import kafka_errors
from llmrouter.kafka.group_fencing import bind_group_membership
from llmrouter.kafka.settings import KafkaSettings
from llmrouter.kafka.stable_offsets import fetch_stable_offsets
from llmrouter.kafka.transactions import (
    Message,
    TransactionClock,
    commit_transaction,
    start_transactional_producer,
)
from llmrouter.workers.done_offsets import DEFAULT_LIMIT, DoneRanges, decode
from llmrouter.workers.fencing import other_holder_alive, outlived_timeout
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.progress import PartitionProgress, Plan

__all__ = ["Output", "RuntimeStats", "TransactionalWorker", "WorkerOptions"]

log = structlog.get_logger("llmrouter.runtime")

#: One message to publish (topic, value, key).
Output = Message

Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[Sequence[Output]]]
ErrorPolicy = Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    group_id: str
    pattern: str
    transactional_id: str
    #: records being processed at once; a slow LLM call is mostly waiting, so thousands
    #: fit in a few tens of MiB. Fetching pauses when full (and when too many records
    #: wait behind a stuck one: `max_tracked`), so memory stays bounded if providers stall.
    max_in_flight: int = 4096
    flush_interval_s: float = 0.02
    grace_s: float = 30.0
    rebalance_grace_s: float = 5.0
    #: how soon topics created later are noticed by the pattern subscription
    metadata_max_age_ms: int = 30_000
    #: an open transaction of a crashed process blocks read_committed readers this long
    #: (unless a process with the same transactional_id starts and fences it at once)
    transaction_timeout_ms: int = 15_000
    #: records taken per fetch; small, so a burst of new work never starves the loop
    max_poll_records: int = 100
    session_timeout_ms: int = 10_000
    #: Kafka's offset.metadata.max.bytes: the done-offsets record must fit in it
    offset_metadata_max_bytes: int = DEFAULT_LIMIT
    #: how long a partition handed over waits for the previous owner's commit to settle
    stable_offsets_timeout_s: float = 120.0

    @property
    def max_tracked(self) -> int:
        return 8 * self.max_in_flight


@dataclass
class RuntimeStats:
    processed: int = 0
    committed: int = 0
    transactions: int = 0
    failed_transactions: int = 0
    #: records a previous owner had published already, skipped on assignment
    skipped: int = 0
    #: time from a record finishing to its outputs being committed, s
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

    async def _new_producer(self) -> AIOKafkaProducer:
        # init_transactions fences an older self and aborts its open transaction
        producer = await start_transactional_producer(
            self._kafka,
            self.options.transactional_id,
            transaction_timeout_ms=self.options.transaction_timeout_ms,
            who=self.options.name,
        )
        if self._consumer is not None:
            bind_group_membership(producer, self._consumer)
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
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        if self._producer is not None:
            with contextlib.suppress(Exception):
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
            except (ProducerFenced, InvalidProducerEpoch) as exc:
                if await self._really_fenced(exc):
                    self.fatal = KafkaFenced(
                        f"{self.options.name}: fenced by a newer instance holding"
                        f" transactional id {self.options.transactional_id}"
                    )
                    log.error("fenced; stopping", worker=self.options.name, error=repr(exc))
                    stop.set()
                    return
                await self._reset_producer()
                self._wake_flush.set()
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

    async def _really_fenced(self, exc: BaseException) -> bool:
        """Whether another live process holds our transactional id (see workers/fencing.py)."""
        o = self.options
        self.stats.failed_transactions += 1
        age_s = self._clock.age_s()
        if outlived_timeout(age_s, o.transaction_timeout_ms):
            METRICS.transactions.labels(o.name, "timed_out").inc()
            log.warning(
                "transaction outlived its timeout and was aborted; retrying with a fresh producer",
                worker=o.name,
                age_s=round(age_s, 1),
            )
            return False

        def member_id() -> str | None:
            coordinator = getattr(self._consumer, "_coordinator", None)
            return getattr(coordinator, "member_id", None)

        if await other_holder_alive(
            self._kafka,
            o.group_id,
            o.transactional_id,
            member_id,
            wait_s=min(10.0, o.session_timeout_ms / 1000),
        ):
            return True
        METRICS.transactions.labels(o.name, "fenced_retry").inc()
        log.warning(
            "producer fenced but no other process holds its id; retrying with a fresh producer",
            worker=o.name,
            error=repr(exc),
        )
        return False

    async def _flush(self) -> None:
        async with self._flush_lock:
            plans: dict[TopicPartition, Plan[Output]] = {}
            for tp, progress in self._progress.items():
                overflows = progress.overflows
                plan = progress.plan()
                if progress.overflows > overflows:
                    METRICS.results_held.labels(self.options.name).inc(progress.held)
                if plan is not None:
                    plans[tp] = plan
            if not plans:
                return
            producer = self._producer
            if producer is None:
                raise KafkaUnavailable(f"{self.options.name}: no transactional producer")
            try:
                await commit_transaction(
                    producer,
                    (out for plan in plans.values() for out in plan.outputs),
                    {tp: OffsetAndMetadata(p.offset, p.metadata) for tp, p in plans.items()},
                    self.options.group_id,
                    clock=self._clock,
                )
            except BaseException:
                for tp in plans:  # plan again next time, from the same state
                    self._progress[tp].retry()
                raise
            now = time.monotonic()
            published = 0
            for tp, plan in plans.items():
                finished = self._progress[tp].published(plan)
                self.stats.record_hold([now - t for t in finished])
                published += len(finished)
            self.stats.transactions += 1
            self.stats.committed += published
            self.last_commit_at = now
            METRICS.transactions.labels(self.options.name, "committed").inc()

    async def _reset_producer(self) -> None:
        """A producer whose transaction failed may be unusable; a new one with the same id
        fences the old and aborts whatever it left open."""
        old = self._producer
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()
        self._producer = None
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

    def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Pause the new partitions until their committed offsets are known for sure."""
        self.assigned.update(assigned)
        fresh = [tp for tp in assigned if tp not in self._progress]
        if not fresh:
            return
        assert self._consumer is not None
        self._consumer.pause(*fresh)
        self._paused.update(fresh)
        self._assignments += 1
        self._adopting.update(dict.fromkeys(fresh, self._assignments))
        if self._adopter is None or self._adopter.done():
            self._adopter = asyncio.create_task(self._adopt(), name=f"{self.options.name}-adopt")
        log.info("partitions assigned", worker=self.options.name, partitions=len(assigned))

    async def _adopt(self) -> None:
        """Read each adopted partition's committed offset and done-offsets record once no
        transaction of the previous owner is pending, seek there, and start consuming."""
        consumer = self._consumer
        assert consumer is not None
        while self._adopting:
            asked = dict(self._adopting)
            partitions = set(asked)
            try:
                found = await fetch_stable_offsets(
                    consumer,
                    self.options.group_id,
                    partitions,
                    timeout_s=self.options.stable_offsets_timeout_s,
                )
            except KafkaUnavailable as exc:
                log.warning("cannot read committed offsets; retrying", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            assigned = consumer.assignment()
            for tp, serial in asked.items():
                if self._adopting.get(tp) != serial:
                    continue  # revoked, or assigned again since we asked: ask again
                if tp not in assigned:
                    del self._adopting[tp]
                    continue
                committed = found.get(tp)
                self._progress[tp] = self._adopted(tp, committed)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed.offset)
                if self._adopting.get(tp) == serial:
                    del self._adopting[tp]

    def _adopted(
        self, tp: TopicPartition, committed: OffsetAndMetadata | None
    ) -> PartitionProgress[Output]:
        limit = self.options.offset_metadata_max_bytes
        if committed is None:
            return PartitionProgress(0, limit=limit)
        try:
            done = decode(committed.offset, committed.metadata)
        except ValueError as exc:  # not ours to interpret: redo rather than guess
            log.warning("unreadable done-offsets record", partition=str(tp), error=str(exc))
            done = DoneRanges()
        return PartitionProgress(committed.offset, done, limit=limit)

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

"""The transactional worker: the consumer loop of the exactly-once runtime.

It fetches records, starts a handler task per record (up to `max_in_flight`, across and
within partitions), pauses partitions when full, and hands partitions over on rebalances.
It holds the parts that share its partition book (runtime/book.py), each given the book
and the clients it needs: the publisher (runtime/publisher.py) commits finished records in
transactions, the adopter (runtime/adopter.py) starts newly assigned partitions from their
stable committed offsets. See the package's description for the whole picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.stopping import stop_within
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.adopter import Adopter
from llmrouter.runtime.book import PartitionBook
from llmrouter.runtime.fitting import checked_outputs, error_outputs
from llmrouter.runtime.handler import AtOnce, Handler, OnError
from llmrouter.runtime.lanes import ONE_LANE, Lanes, lane_caps
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.progress import PartitionProgress
from llmrouter.runtime.publisher import Publisher
from llmrouter.runtime.reporting import NO_METRICS, RuntimeMetrics
from llmrouter.runtime.stats import RuntimeStats

__all__ = ["TransactionalWorker"]

log = structlog.get_logger("llmrouter.runtime")

#: of a rebalance's grace, the last part, in which the records cut off hand over what
#: they owe (`publish_unbound`) before the commit on revoke
_CUT_OFF_SETTLE_S = 1.0


class TransactionalWorker:
    def __init__(
        self,
        options: WorkerOptions,
        kafka: KafkaSettings,
        handler: Handler,
        on_error: OnError,
        *,
        metrics: RuntimeMetrics = NO_METRICS,
        lanes: Lanes = ONE_LANE,
        at_once: AtOnce | None = None,
    ) -> None:
        """`lanes`: how the topics share `max_in_flight` (runtime/lanes.py); by default
        they share it as one pool. `at_once`: the outputs of the records that need no
        waiting, finished without a task each (runtime/handler.py); by default every
        record goes to `handler`."""
        self.options = options
        self._kafka = kafka
        self._handler = handler
        self._at_once = at_once
        self._on_error = on_error
        self._metrics = metrics
        self.stats = RuntimeStats()
        self._book = PartitionBook()
        self._lanes = lanes
        self._lane_of_topic: dict[str, str] = {}
        #: the fewest records a lane still fetching may take on (set with the pauses)
        self._lane_room = options.max_in_flight
        #: lanes paused at their cap: each resumes once a batch of records fits again
        self._capped: set[str] = set()
        self._publisher = Publisher(options, kafka, self._book, self.stats, metrics)
        self._adopter = Adopter(options, self._book)
        self._consumer: AIOKafkaConsumer | None = None
        self._probe_lock = asyncio.Lock()
        self._closed = False
        self.started_at = self.last_record_at = time.monotonic()

    @property
    def fatal(self) -> BaseException | None:
        """Why the worker stopped on its own (a real fence), if it did."""
        return self._publisher.fatal

    @property
    def last_commit_at(self) -> float:
        return self._publisher.last_commit_at

    @property
    def assigned(self) -> set[TopicPartition]:
        return self._book.assigned

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        o = self.options
        await self._publisher.start()
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
            fetch_min_bytes=o.fetch_min_bytes,
            fetch_max_wait_ms=o.fetch_max_wait_ms,
            session_timeout_ms=o.session_timeout_ms,
            heartbeat_interval_ms=max(500, o.session_timeout_ms // 4),
        )
        # offsets committed by a consumer that lost its partitions are refused
        self._publisher.bind(self._consumer)
        self._adopter.bind(self._consumer)
        try:
            with kafka_errors(f"{o.name}: cannot connect to Kafka"):
                await self._consumer.start()
        except KafkaUnavailable:
            await self._publisher.stop()
            raise
        self._consumer.subscribe(pattern=o.pattern, listener=_Rebalance(self))
        log.info("worker started", worker=o.name, group=o.group_id, pattern=o.pattern)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, then drain in-flight work and commit it."""
        assert self._consumer is not None
        flusher = asyncio.create_task(self._publisher.run(stop), name=f"{self.options.name}-flush")
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
        """Give in-flight work the grace period, cut off the rest, and commit what finished
        with what the handlers of the records cut off handed over (`publish_unbound`)."""
        tasks = self._book.all_tasks()
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
                await self._cut_off(pending, self.options.grace_s)
        if self.fatal is None:
            with contextlib.suppress(Exception):
                await self._publisher.flush()

    async def abandon(self) -> None:
        """Close a started worker that will not run (another one failed to start)."""
        await self._close()

    async def _close(self) -> None:
        # Wait out a readiness probe using the consumer, then keep new ones off it: a probe
        # racing consumer.stop() opens a connection after the client closed them all.
        async with self._probe_lock:
            self._closed = True
        await self._adopter.close()
        # bounded: a client that cannot reach Kafka must not keep the process alive
        if self._consumer is not None:
            await stop_within(self._consumer, self.options.grace_s)
        await self._publisher.close()
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
        memory; published ones behind a stuck record hold a few bytes each. No fetch
        takes more than the lane with the least room left may hold, so none overshoots."""
        busy = self._book.uncommitted
        tracked = self._book.tracked
        o = self.options
        return min(
            o.max_poll_records, o.max_in_flight - busy, o.max_tracked - tracked, self._lane_room
        )

    def _lane(self, topic: str) -> str:
        lane = self._lane_of_topic.get(topic)
        if lane is None:
            lane = self._lane_of_topic[topic] = self._lanes.of(topic)
        return lane

    def _full_lanes(self, assigned: set[TopicPartition]) -> set[str]:
        """The lanes that must stop fetching: at their cap of `max_in_flight`
        (runtime/lanes.py), all of them when the whole pool is full, and, when too many
        records wait behind stuck ones, those over their part of `max_tracked`.

        A lane paused at its cap resumes once a batch fits (its headroom, at most a poll's
        worth), not at each record that finishes: every resume fetches the lane's
        partitions anew, and what does not fit is thrown away at the next pause."""
        o = self.options
        busy, tracked = self._book.by_lane(self._lane)
        caps = lane_caps(
            self._lanes, o.max_in_flight, busy, {self._lane(tp.topic) for tp in assigned}
        )

        def capped(lane: str, cap: int) -> bool:
            if lane in self._capped:  # paused: until a batch fits again (a gap <= its cap)
                return busy[lane] > cap - min(o.max_poll_records, caps.headroom[lane])
            return busy[lane] >= cap

        self._capped = {lane for lane, cap in caps.caps.items() if capped(lane, cap)}
        pool_full = sum(busy.values()) >= o.max_in_flight
        full = set(caps.caps) if pool_full else set(self._capped)
        if sum(tracked.values()) >= o.max_tracked:
            per_slot = o.max_tracked // o.max_in_flight
            full |= {
                lane for lane, share in caps.shares.items() if tracked[lane] >= per_slot * share
            }
        rooms = [cap - busy[lane] for lane, cap in caps.caps.items() if lane not in full]
        self._lane_room = min(rooms, default=o.max_in_flight)
        return full

    def _apply_backpressure(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        book = self._book
        assigned = consumer.assignment()
        full = self._full_lanes(assigned)
        wanted = {tp for tp in assigned if tp in book.adopting or self._lane(tp.topic) in full}
        book.paused &= assigned
        if wanted - book.paused:
            consumer.pause(*(wanted - book.paused))
        if book.paused - wanted:
            consumer.resume(*(book.paused - wanted))
        book.paused = wanted

    def _dispatch(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        progress = self._book.progress.get(tp)
        if progress is None:  # not adopted yet: its offsets are read again after the seek
            return
        tasks = self._book.tasks.setdefault(tp, set())
        skipped = finished = 0
        for record in records:
            verdict = progress.accept(record.offset)
            if verdict is None:
                continue
            if not verdict:
                skipped += 1
                continue
            if self._at_once is not None and self._finish_at_once(progress, record):
                finished += 1
                continue
            task = asyncio.create_task(self._process(progress, record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if skipped:
            self.stats.skipped += skipped
            self._metrics.count_skipped_done(self.options.name, skipped)
        if skipped or finished:
            self._publisher.wake()

    def _finish_at_once(
        self, progress: PartitionProgress[Output], record: ConsumerRecord[bytes, bytes]
    ) -> bool:
        """Finish a record whose outputs `at_once` knows; False leaves it to the handler
        (no answer, or an exception: the handler says it again, and `on_error` decides)."""
        assert self._at_once is not None
        try:
            outputs = self._at_once(record)
            if outputs is None:
                return False
            outputs = checked_outputs(outputs, self._publisher.max_request_size)
        except Exception:
            return False
        if progress.finish(record.offset, outputs):
            self.stats.processed += 1
        return True

    async def _process(
        self, progress: PartitionProgress[Output], record: ConsumerRecord[bytes, bytes]
    ) -> None:
        # Whatever the record holds, it finishes (runtime/fitting.py): outputs too large
        # to send go to on_error instead, and a failing on_error finishes it with none.
        limit_bytes = self._publisher.max_request_size
        try:
            outputs = checked_outputs(await self._handler(record), limit_bytes)
        except Exception as exc:  # on_error decides: a failed result, a dead letter
            if _abandoned():
                raise asyncio.CancelledError from exc
            outputs = error_outputs(
                self._on_error,
                record,
                exc,
                limit_bytes=limit_bytes,
                worker=self.options.name,
                metrics=self._metrics,
            )
        if _abandoned():  # handed over or shut down: the next owner processes it
            raise asyncio.CancelledError
        if progress.finish(record.offset, outputs):
            self.stats.processed += 1
            self._publisher.wake()

    # -- rebalances ----------------------------------------------------------------------

    def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Pause the new partitions until their committed offsets are known for sure."""
        self._adopter.on_assigned(assigned)

    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        """Give in-flight work the rebalance grace, cut off what is still running, commit
        what finished together with what the handlers of the records cut off handed over
        (`publish_unbound`: their account of the work cut off), hand over the rest."""
        tasks = self._book.tasks_of(revoked)
        cut_off = 0
        if tasks:
            # The whole handover must fit the group's rebalance timeout (the session
            # timeout): the records cut off get the last moment of the grace to hand over
            # their accounts; what comes later goes in a later transaction.
            grace_s = self.options.rebalance_grace_s
            settle_s = min(grace_s, _CUT_OFF_SETTLE_S)
            _, pending = await asyncio.wait(tasks, timeout=grace_s - settle_s)
            # Cut off before the commit, not after: a record finishing between the two
            # would have its outputs dropped with the partition.
            cut_off = await self._cut_off(pending, settle_s)
        if self.fatal is None:
            try:
                await self._publisher.flush()
            except Exception as exc:  # the new owner redoes anything not committed
                log.warning("commit on revoke failed", worker=self.options.name, error=repr(exc))
        async with self._publisher.lock:  # no transaction may still carry the revoked ones
            abandoned = self._book.release(revoked)
        log.info(
            "partitions revoked",
            worker=self.options.name,
            partitions=len(revoked),
            handed_over_uncommitted=abandoned,
            cut_off=cut_off,
        )

    async def _cut_off(self, tasks: set[asyncio.Task[None]], wait_s: float) -> int:
        """Cancel `tasks` and give their handlers up to `wait_s` to account for what they
        cut off; returns how many there were. Their records stay uncommitted: whoever owns
        the partition next processes them again."""
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=wait_s)
        return len(tasks)

    def publish_unbound(self, outputs: Sequence[Output]) -> None:
        """Publish `outputs` in the next transaction, bound to no record: they go out even
        when the record that made them is handed over unfinished (runtime/unbound.py)."""
        self._publisher.unbound.add(outputs)

    # -- what health checks and tests look at -------------------------------------------

    @property
    def in_flight(self) -> int:
        return self._book.in_flight

    @property
    def uncommitted(self) -> int:
        return self._book.uncommitted

    async def sample_lag(self, timeout_s: float) -> dict[tuple[str, int], int] | None:
        """Records between the committed offset of the group and the (last stable) end of
        each adopted partition, so a record stuck in a handler counts, and every record
        that arrives after it, however many later ones finished; None when Kafka did not
        answer within `timeout_s` — which is also the readiness probe.

        The committed offset is the one this worker last committed for the group (read
        from the group on adoption). With nothing fetched above it, the consumer's
        position is used instead: it is past the transaction markers of a transactional
        input topic, which no commit ever covers."""
        consumer = self._consumer
        if consumer is None or self._closed:
            return None
        partitions = [tp for tp in self._book.assigned if tp in self._book.progress]
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
                    progress = self._book.progress.get(tp)
                    if progress is None:  # revoked while we looked
                        continue
                    committed = progress.committed
                    if not progress.tracked:
                        committed = max(committed, await consumer.position(tp))
                    lag[(tp.topic, tp.partition)] = max(0, ends[tp] - committed)
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

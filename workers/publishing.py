"""The publishing half of a worker: one transaction per batch of finished records.

Every partition's plan (workers/progress.py) goes into one transaction with the outputs it
publishes and, per partition, the offset and done-offsets record to commit. A failed
transaction is aborted and retried with a fresh producer; a fence stops the worker only
when another live process holds its transactional id (workers/fencing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import InvalidProducerEpoch, ProducerFenced
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import KafkaFenced, KafkaUnavailable
from llmrouter.kafkaio.group_offset_commit import bind_group_membership
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import (
    TransactionClock,
    commit_transaction,
    start_transactional_producer,
)
from llmrouter.workers.fencing import other_holder_alive, outlived_timeout
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.options import Output, RuntimeStats, WorkerOptions
from llmrouter.workers.progress import PartitionProgress, Plan

__all__ = ["Publisher"]

log = structlog.get_logger("llmrouter.runtime")


class Publisher:
    """Mixed into TransactionalWorker, which sets these attributes."""

    options: WorkerOptions
    stats: RuntimeStats
    fatal: BaseException | None
    last_commit_at: float
    _kafka: KafkaSettings
    _consumer: AIOKafkaConsumer | None
    _producer: AIOKafkaProducer | None
    _progress: dict[TopicPartition, PartitionProgress[Output]]
    _flush_lock: asyncio.Lock
    _wake_flush: asyncio.Event
    _clock: TransactionClock

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
                # a commit slower than the transaction timeout is aborted by the coordinator
                # anyway: give up on it then, rather than wait on a producer that may hang
                async with asyncio.timeout(self.options.transaction_timeout_ms / 1000):
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
            if any(plan.capped for plan in plans.values()):
                self._wake_flush.set()  # the rest of a capped partition goes next

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

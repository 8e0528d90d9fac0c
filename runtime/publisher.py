"""The publisher of a worker: one transaction per batch of finished records.

Every partition's plan (runtime/progress.py) goes into one transaction with the outputs it
publishes and, per partition, the offset and done-offsets record to commit. A failed
transaction is aborted and retried with a fresh producer; a fence stops the worker only
when another live process holds its transactional id (runtime/fence_check.py). A failed
flush forgets nothing: plans only look, and only a commit settles them. A commit that
failed with its outcome unknown (EndTxn under way: kafkaio/transactions.py) is resolved
before anything is published again: once a fresh producer has fenced the one that ran it,
the stable committed offsets tell whether it landed (runtime/commit_outcome.py); if so its
plans count as published, else they are planned and published again.

It owns the transactional producer, the flush lock (held while a transaction is planned
and committed, so a revoked partition is never carried by one in progress) and the event
that wakes the flush loop; it reads the partitions' progress from the worker's book.
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
from llmrouter.kafkaio.admin import DEFAULT_MESSAGE_MAX_BYTES, message_max_bytes
from llmrouter.kafkaio.group_offset_commit import bind_group_membership
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.stable_offsets import fetch_stable_offsets
from llmrouter.kafkaio.stopping import stop_within
from llmrouter.kafkaio.transactions import (
    Output,
    TransactionClock,
    commit_transaction,
    start_transactional_producer,
)
from llmrouter.runtime.book import PartitionBook
from llmrouter.runtime.commit_outcome import Unresolved, committed_as_planned
from llmrouter.runtime.fence_check import other_holder_alive, outlived_timeout
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.progress import PartitionProgress, Plan
from llmrouter.runtime.reporting import RuntimeMetrics
from llmrouter.runtime.stats import RuntimeStats
from llmrouter.runtime.unbound import UnboundOutputs

__all__ = ["Publisher"]

log = structlog.get_logger("llmrouter.runtime")


class Publisher:
    def __init__(
        self,
        options: WorkerOptions,
        kafka: KafkaSettings,
        book: PartitionBook,
        stats: RuntimeStats,
        metrics: RuntimeMetrics,
    ) -> None:
        self._options = options
        self._kafka = kafka
        self._book = book
        self._stats = stats
        self._metrics = metrics
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._clock = TransactionClock()
        #: held while a transaction is planned and committed
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()
        #: outputs bound to no record, published in the next transaction
        self.unbound = UnboundOutputs(self.wake)
        #: why the worker must stop (a real fence), set by the flush loop
        self.fatal: BaseException | None = None
        self.last_commit_at = time.monotonic()
        #: the largest record the producer may send: the brokers' limit, known at start
        self.max_request_size = DEFAULT_MESSAGE_MAX_BYTES
        #: the last transaction, if its commit failed with its outcome unknown
        self._unresolved: Unresolved | None = None
        #: transactions of unknown outcome found committed / found not committed
        self.found_committed = 0
        self.found_not_committed = 0

    # -- the producer --------------------------------------------------------------------

    async def start(self) -> None:
        """Start the transactional producer (which fences an older self), allowed records
        as large as the brokers accept (`max_request_size`, read from the cluster)."""
        kwargs = self._kafka.client_kwargs()
        bootstrap = kwargs.pop("bootstrap_servers")
        self.max_request_size = await message_max_bytes(bootstrap, client_kwargs=kwargs)
        self._producer = await self._new_producer()

    def bind(self, consumer: AIOKafkaConsumer) -> None:
        """Offsets committed by a consumer that lost its partitions are refused: this
        producer, and every fresh one after it, commits with `consumer`'s generation."""
        self._consumer = consumer
        assert self._producer is not None
        bind_group_membership(self._producer, consumer)

    async def stop(self) -> None:
        """Stop the producer of a worker that could not start."""
        assert self._producer is not None
        await self._producer.stop()

    async def close(self) -> None:
        """Stop the producer, waiting at most the grace period."""
        # bounded: a client that cannot reach Kafka must not keep the process alive
        if self._producer is not None:
            await stop_within(self._producer, self._options.grace_s)

    async def _new_producer(self) -> AIOKafkaProducer:
        # init_transactions fences an older self and aborts its open transaction
        producer = await start_transactional_producer(
            self._kafka,
            self._options.transactional_id,
            transaction_timeout_ms=self._options.transaction_timeout_ms,
            max_request_size=self.max_request_size,
            who=self._options.name,
        )
        if self._consumer is not None:
            bind_group_membership(producer, self._consumer)
        return producer

    async def _reset_producer(self) -> None:
        """A producer whose transaction failed may be unusable; a new one with the same id
        fences the old and aborts whatever it left open."""
        old = self._producer
        if old is not None:
            # bounded: stopping flushes what the old one buffered, which may never go out
            await stop_within(old, self._options.grace_s)
        self._producer = None
        try:
            self._producer = await self._new_producer()
        except KafkaUnavailable as exc:
            log.warning("producer restart failed; will retry", error=str(exc))

    # -- flushing ------------------------------------------------------------------------

    def wake(self) -> None:
        """Something finished (or was skipped): flush soon."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Flush whenever woken, until cancelled; on a real fence set `fatal` and `stop`."""
        backoff_s = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            # A short pause batches the results that finish together into one transaction.
            await asyncio.sleep(self._options.flush_interval_s)
            try:
                await self.flush()
                backoff_s = 0.1
            except (ProducerFenced, InvalidProducerEpoch) as exc:
                if await self._really_fenced(exc):
                    self.fatal = KafkaFenced(
                        f"{self._options.name}: fenced by a newer instance holding"
                        f" transactional id {self._options.transactional_id}"
                    )
                    log.error("fenced; stopping", worker=self._options.name, error=repr(exc))
                    stop.set()
                    return
                await self._reset_producer()
                self._wake.set()
            except Exception as exc:  # broker restart, timeouts: keep the outputs, retry
                self._stats.failed_transactions += 1
                self._metrics.count_transaction(self._options.name, "failed")
                log.warning(
                    "transaction failed; will retry", worker=self._options.name, error=repr(exc)
                )
                await self._reset_producer()
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
                self._wake.set()

    async def _really_fenced(self, exc: BaseException) -> bool:
        """Whether another live process holds our transactional id (runtime/fence_check.py)."""
        o = self._options
        self._stats.failed_transactions += 1
        age_s = self._clock.age_s()
        if outlived_timeout(age_s, o.transaction_timeout_ms):
            self._metrics.count_transaction(o.name, "timed_out")
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
        self._metrics.count_transaction(o.name, "fenced_retry")
        log.warning(
            "producer fenced but no other process holds its id; retrying with a fresh producer",
            worker=o.name,
            error=repr(exc),
        )
        return False

    async def flush(self) -> None:
        """Commit, in one transaction, every partition's plan: its finished records'
        outputs, and its offset with the done-offsets record."""
        progress_of = self._book.progress
        async with self.lock:
            await self._resolve()
            plans: dict[TopicPartition, Plan[Output]] = {}
            for tp, progress in progress_of.items():
                overflows = progress.overflows
                plan = progress.plan()
                if progress.overflows > overflows:
                    self._metrics.count_results_held(self._options.name, progress.held)
                if plan is not None:
                    plans[tp] = plan
            unbound = self.unbound.take()
            if not plans and not unbound:
                return
            # planning settled nothing: whatever fails from here on is planned again
            producer = self._producer
            if producer is None:
                raise KafkaUnavailable(f"{self._options.name}: no transactional producer")
            try:
                # a commit slower than the transaction timeout is aborted by the coordinator
                # anyway: give up on it then, rather than wait on a producer that may hang
                async with asyncio.timeout(self._options.transaction_timeout_ms / 1000):
                    await commit_transaction(
                        producer,
                        [*unbound, *(out for plan in plans.values() for out in plan.outputs)],
                        {tp: OffsetAndMetadata(p.offset, p.metadata) for tp, p in plans.items()},
                        self._options.group_id,
                        clock=self._clock,
                    )
            except BaseException:
                if unbound and not self._clock.outcome_unknown:
                    self.unbound.put_back(unbound)
                elif unbound:  # committed or not, never both published and kept
                    log.warning(
                        "unbound outputs of a transaction of unknown outcome dropped",
                        worker=self._options.name,
                        outputs=len(unbound),
                    )
                if self._clock.outcome_unknown:
                    self._unresolved = Unresolved(
                        producer, {tp: (progress_of[tp], plan) for tp, plan in plans.items()}
                    )
                    log.warning(
                        "commit failed with its outcome unknown; will read it back",
                        worker=self._options.name,
                        partitions=len(plans),
                    )
                raise
            self._apply({tp: (progress_of[tp], plan) for tp, plan in plans.items()})

    async def _resolve(self) -> None:
        """Settle a transaction whose commit failed with its outcome unknown: mark its
        plans published if it committed, else leave them to be planned again. Raises
        KafkaUnavailable (and stays unresolved) while that cannot be told yet."""
        unresolved = self._unresolved
        if unresolved is None:
            return
        held = {
            tp: (progress, plan)
            for tp, (progress, plan) in unresolved.plans.items()
            if self._book.progress.get(tp) is progress
        }
        if not held:  # every partition was handed over: the next owners read the offsets
            self._unresolved = None
            return
        producer = self._producer
        if producer is None or producer is unresolved.producer:
            # until a fresh producer has fenced it, the old one may still commit
            raise KafkaUnavailable(
                f"{self._options.name}: the last commit's outcome is unknown until a fresh"
                " transactional producer has started"
            )
        if self._consumer is None:
            raise KafkaUnavailable(f"{self._options.name}: no consumer to read offsets with")
        committed = await fetch_stable_offsets(
            self._consumer,
            self._options.group_id,
            held,
            timeout_s=self._options.transaction_timeout_ms / 1000,
        )
        self._unresolved = None
        if committed_as_planned({tp: plan for tp, (_, plan) in held.items()}, committed):
            self.found_committed += 1
            log.warning(
                "the commit of unknown outcome had landed; not publishing it again",
                worker=self._options.name,
                partitions=len(held),
            )
            self._apply(held)
        else:
            self.found_not_committed += 1
            log.warning(
                "the commit of unknown outcome had not landed; publishing it again",
                worker=self._options.name,
                partitions=len(held),
            )

    def _apply(
        self, plans: dict[TopicPartition, tuple[PartitionProgress[Output], Plan[Output]]]
    ) -> None:
        """The transaction carrying `plans` committed."""
        now = time.monotonic()
        published = 0
        for progress, plan in plans.values():
            finished = progress.published(plan)
            self._stats.record_hold([now - t for t in finished])
            published += len(finished)
        self._stats.transactions += 1
        self._stats.committed += published
        self.last_commit_at = now
        self._metrics.count_transaction(self._options.name, "committed")
        if any(plan.capped for _, plan in plans.values()):
            self._wake.set()  # the rest of a capped partition goes next

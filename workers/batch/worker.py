"""The batch worker: `llmrouter worker batch`. One consumer group (`llmrouter-batch`)
reads `llm.batches` read-committed; each partition it is given gets a `PartitionOwner`
with a transactional producer of its own (`<group>-p<partition>`), started before the
partition is read, so the previous owner is fenced and its open transaction aborted.
A partition taken away stops being driven at once; its jobs go on with the next owner,
which reads them from the partition. A failed step (a provider error, a lost transaction)
starts the partition's owner afresh from its committed offset after `retry_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import start_transactional_producer
from llmrouter.router import RoutingEngine
from llmrouter.workers.batch.owner import PartitionOwner
from llmrouter.workers.metrics import METRICS

__all__ = ["BATCH_GROUP", "BatchWorker"]

log = structlog.get_logger("llmrouter.workers.batch")

BATCH_GROUP = "llmrouter-batch"


class BatchWorker:
    def __init__(
        self,
        router: RoutingEngine,
        kafka: KafkaSettings,
        *,
        topic: str,
        group_id: str = BATCH_GROUP,
        tick_s: float = 0.5,
        retry_s: float = 2.0,
        session_timeout_ms: int = 10_000,
        instance_id: str | None = None,
    ) -> None:
        self.router = router
        self.kafka = kafka
        self.topic = topic
        self.group_id = group_id
        self.tick_s = tick_s
        self.retry_s = retry_s
        self.owners: dict[TopicPartition, PartitionOwner] = {}
        self._broken: dict[TopicPartition, float] = {}
        self._consumer = AIOKafkaConsumer(
            **kafka.client_kwargs(),
            group_id=group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            # static membership: a restarted process with the same instance id takes its
            # partitions back at once, without waiting for its old session to time out
            group_instance_id=instance_id,
        )
        self._assigned: set[TopicPartition] = set()

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe([self.topic], listener=_Listener(self))

    async def _own(self, tp: TopicPartition) -> None:
        """Become the partition's owner: fence the last one, then read from the committed
        offset to the end (its state) before driving anything."""
        producer = await start_transactional_producer(
            self.kafka,
            f"{self.group_id}-p{tp.partition}",
            linger_ms=20,
            who="batch worker",
        )
        try:
            committed = await self._consumer.committed(tp)
            start = (
                committed
                if committed is not None
                else (await self._consumer.beginning_offsets([tp]))[tp]
            )
            end = (await self._consumer.end_offsets([tp]))[tp]
        except BaseException:
            await producer.stop()
            raise
        self._consumer.seek(tp, start)
        partitions = len(self._consumer.partitions_for_topic(tp.topic) or {tp.partition})
        self.owners[tp] = PartitionOwner(
            tp,
            producer,
            self.group_id,
            self.router,
            start_offset=start,
            end_offset=end,
            partitions=partitions,
        )
        log.info("batch partition owned", partition=tp.partition, start=start, end=end)

    async def _disown(self, tp: TopicPartition) -> None:
        owner = self.owners.pop(tp, None)
        if owner is not None:
            await owner.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                # records fetched before a seek are dropped by the consumer: what comes
                # for a partition owned anew during this call starts at its seek
                batches = await self._consumer.getmany(timeout_ms=int(self.tick_s * 1000))
                for tp, records in batches.items():
                    reader = self.owners.get(tp)
                    if reader is None:
                        continue
                    for record in records:
                        reader.apply(record)
                for tp, owner in list(self.owners.items()):
                    if not owner.caught_up:
                        with contextlib.suppress(Exception):
                            owner.reached(await self._consumer.position(tp))
                await self._tick_all()
                await self._heal()
                self._report()
        finally:
            for tp in list(self.owners):
                await self._disown(tp)
            with contextlib.suppress(Exception):
                await self._consumer.stop()

    async def _tick_all(self) -> None:
        owners = list(self.owners.items())
        results = await asyncio.gather(
            *(owner.tick() for _, owner in owners), return_exceptions=True
        )
        for (tp, owner), outcome in zip(owners, results, strict=True):
            if isinstance(outcome, BaseException) and self.owners.get(tp) is owner:
                log.warning(
                    "batch partition step failed; reading it again",
                    partition=tp.partition,
                    error=f"{type(outcome).__name__}: {outcome}",
                )
                await self._disown(tp)
                self._broken[tp] = time.monotonic() + self.retry_s

    async def _heal(self) -> None:
        for tp, when in list(self._broken.items()):
            if tp not in self._assigned:
                del self._broken[tp]
            elif time.monotonic() >= when:
                del self._broken[tp]
                try:
                    await self._own(tp)
                except Exception as exc:
                    log.warning(
                        "batch partition not owned yet", partition=tp.partition, error=str(exc)
                    )
                    self._broken[tp] = time.monotonic() + self.retry_s

    def _report(self) -> None:
        states: dict[str, int] = {"open": 0, "submitted": 0}
        waiting = 0
        oldest = 0.0
        for owner in self.owners.values():
            for state, count in owner.jobs_by_state().items():
                states[state] = states.get(state, 0) + count
            waiting += owner.waiting()
            oldest = max(oldest, owner.oldest_job_age_s())
        for state, count in states.items():
            METRICS.batch_jobs.labels(state).set(count)
        METRICS.batch_waiting.set(waiting)
        METRICS.batch_oldest_job_age.set(oldest)

    async def abandon(self) -> None:
        for tp in list(self.owners):
            await self._disown(tp)
        with contextlib.suppress(Exception):
            await self._consumer.stop()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: BatchWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self.worker._assigned.discard(tp)
            self.worker._broken.pop(tp, None)
            await self.worker._disown(tp)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            self.worker._assigned.add(tp)
            try:
                await self.worker._own(tp)
            except Exception as exc:
                log.warning("batch partition not owned yet", partition=tp.partition, error=str(exc))
                self.worker._broken[tp] = time.monotonic() + self.worker.retry_s

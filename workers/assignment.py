"""The assignment half of a worker: a partition starts only once its committed offset
and done-offsets record are known for sure.

New partitions stay paused while OffsetFetch v7 with `require_stable`
(kafkaio/stable_offsets.py) waits for the previous owner's transaction to resolve;
then the worker seeks to the committed offset and skips the records the done-offsets
record lists as published (workers/progress.py).
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.stable_offsets import fetch_stable_offsets
from llmrouter.workers.done_offsets import DoneRanges, decode
from llmrouter.workers.options import Output, WorkerOptions
from llmrouter.workers.progress import PartitionProgress

__all__ = ["Adopter"]

log = structlog.get_logger("llmrouter.runtime")


class Adopter:
    """Mixed into TransactionalWorker, which sets these attributes."""

    options: WorkerOptions
    assigned: set[TopicPartition]
    _consumer: AIOKafkaConsumer | None
    _progress: dict[TopicPartition, PartitionProgress[Output]]
    _paused: set[TopicPartition]
    _adopting: dict[TopicPartition, int]
    _assignments: int
    _adopter: asyncio.Task[None] | None

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

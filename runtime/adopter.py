"""The adopter of a worker: a partition starts only once its committed offset and
done-offsets record are known for sure.

New partitions stay paused while OffsetFetch v7 with `require_stable`
(kafkaio/stable_offsets.py) waits for the previous owner's transaction to resolve;
then the adopter seeks to the committed offset (its group's, or that of a peer group which
read the same partitions further: `WorkerOptions.peer_groups`) and opens the partition's
progress in the worker's book, which skips the records the done-offsets record lists as
published (runtime/progress.py).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.stable_offsets import fetch_stable_offsets
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.book import PartitionBook
from llmrouter.runtime.done_offsets import DoneRanges, decode
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.progress import PartitionProgress

__all__ = ["Adopter"]

log = structlog.get_logger("llmrouter.runtime")


class Adopter:
    def __init__(self, options: WorkerOptions, book: PartitionBook) -> None:
        self._options = options
        self._book = book
        self._consumer: AIOKafkaConsumer | None = None
        #: serial number of the last assignment
        self._assignments = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def bind(self, consumer: AIOKafkaConsumer) -> None:
        """The consumer whose assignments this adopter starts."""
        self._consumer = consumer

    async def close(self) -> None:
        """Stop reading committed offsets, for good: an assignment that a rebalance
        completes while the consumer stops starts no new reading (it would open broker
        connections on a client that has closed them all)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Pause the new partitions until their committed offsets are known for sure."""
        book = self._book
        book.assigned.update(assigned)
        # logged for an empty assignment too: a worker with nothing to read says so
        log.info("partitions assigned", worker=self._options.name, partitions=len(assigned))
        fresh = [tp for tp in assigned if tp not in book.progress]
        if not fresh:
            return
        assert self._consumer is not None
        self._consumer.pause(*fresh)
        book.paused.update(fresh)
        self._assignments += 1
        book.adopting.update(dict.fromkeys(fresh, self._assignments))
        if self._closed:
            return  # stopping: the partitions stay paused until the group moves them on
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._adopt(), name=f"{self._options.name}-adopt")

    async def _adopt(self) -> None:
        """Read each adopted partition's committed offset and done-offsets record once no
        transaction of the previous owner is pending, seek there, and start consuming."""
        consumer = self._consumer
        assert consumer is not None
        adopting = self._book.adopting
        while adopting:
            asked = dict(adopting)
            partitions = set(asked)
            try:
                found = await self._committed(consumer, partitions)
            except KafkaUnavailable as exc:
                log.warning("cannot read committed offsets; retrying", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            assigned = consumer.assignment()
            for tp, serial in asked.items():
                if adopting.get(tp) != serial:
                    continue  # revoked, or assigned again since we asked: ask again
                if tp not in assigned:
                    del adopting[tp]
                    continue
                committed = found.get(tp)
                self._book.progress[tp] = self._adopted(tp, committed)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed.offset)
                if adopting.get(tp) == serial:
                    del adopting[tp]

    async def _committed(
        self, consumer: AIOKafkaConsumer, partitions: set[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        """Each partition's committed offset and done-offsets record: its own group's, or a
        peer group's where that one is further on (the records before it were finished by
        the other path)."""
        timeout_s = self._options.stable_offsets_timeout_s
        found = await fetch_stable_offsets(
            consumer, self._options.group_id, partitions, timeout_s=timeout_s
        )
        for peer in self._options.peer_groups:
            theirs = await fetch_stable_offsets(consumer, peer, partitions, timeout_s=timeout_s)
            for tp, committed in theirs.items():
                ours = found.get(tp)
                if committed is not None and (ours is None or committed.offset > ours.offset):
                    log.info(
                        "partition starts where another group left it",
                        worker=self._options.name,
                        partition=str(tp),
                        group=peer,
                        offset=committed.offset,
                        own_offset=None if ours is None else ours.offset,
                    )
                    found[tp] = committed
        return found

    def _adopted(
        self, tp: TopicPartition, committed: OffsetAndMetadata | None
    ) -> PartitionProgress[Output]:
        limit = self._options.offset_metadata_max_bytes
        if committed is None:
            return PartitionProgress(0, limit=limit)
        try:
            done = decode(committed.offset, committed.metadata)
        except ValueError as exc:  # not ours to interpret: redo rather than guess
            log.warning("unreadable done-offsets record", partition=str(tp), error=str(exc))
            done = DoneRanges()
        return PartitionProgress(committed.offset, done, limit=limit)

"""The partition book: the state of every partition a worker holds, kept in one place.

The consumer loop, the publisher and the adopter of one worker share one book, each
handed it at construction:

- the adopter records what the group assigned, pauses a new partition while its committed
  offset is read, then opens its progress;
- the consumer loop starts a handler task per fetched record, pauses and resumes
  partitions for backpressure (per lane: `by_lane`), and releases what a rebalance
  revokes;
- the publisher plans each transaction from the partitions' progress.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable

from aiokafka import TopicPartition

from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.progress import PartitionProgress

__all__ = ["PartitionBook"]


class PartitionBook:
    def __init__(self) -> None:
        #: every partition the group gave this worker
        self.assigned: set[TopicPartition] = set()
        #: adopted partitions: what is in flight, finished, published; what to commit
        self.progress: dict[TopicPartition, PartitionProgress[Output]] = {}
        #: the handler tasks of each adopted partition's records
        self.tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        #: assigned partitions whose committed offsets are still being read, with the
        #: serial number of the assignment (a newer one makes an older answer stale)
        self.adopting: dict[TopicPartition, int] = {}
        #: partitions the consumer holds paused (awaiting adoption, or backpressure)
        self.paused: set[TopicPartition] = set()

    @property
    def in_flight(self) -> int:
        """Records being processed."""
        return sum(p.in_flight for p in self.progress.values())

    @property
    def uncommitted(self) -> int:
        """Records in flight, or finished and not yet published."""
        return sum(p.in_flight + p.unpublished for p in self.progress.values())

    @property
    def tracked(self) -> int:
        """Records fetched above the committed offsets (in flight, unpublished or done)."""
        return sum(p.tracked for p in self.progress.values())

    def by_lane(self, lane_of: Callable[[str], str]) -> tuple[Counter[str], Counter[str]]:
        """Per lane (`lane_of` a partition's topic): records uncommitted, records tracked."""
        uncommitted: Counter[str] = Counter()
        tracked: Counter[str] = Counter()
        for tp, p in self.progress.items():
            lane = lane_of(tp.topic)
            uncommitted[lane] += p.in_flight + p.unpublished
            tracked[lane] += p.tracked
        return uncommitted, tracked

    def tasks_of(self, partitions: Iterable[TopicPartition]) -> list[asyncio.Task[None]]:
        return [t for tp in partitions for t in self.tasks.get(tp, ())]

    def all_tasks(self) -> list[asyncio.Task[None]]:
        return [t for ts in self.tasks.values() for t in ts]

    def release(self, revoked: Iterable[TopicPartition]) -> int:
        """Forget partitions the group took away: late finishers are dropped, their tasks
        cancelled. Returns how many records were handed over uncommitted."""
        revoked = list(revoked)
        abandoned = 0
        for tp in revoked:
            progress = self.progress.pop(tp, None)
            if progress is not None:
                progress.closed = True
                abandoned += progress.in_flight + progress.unpublished
            for task in self.tasks.pop(tp, set()):
                task.cancel()
        self.assigned.difference_update(revoked)
        for tp in revoked:
            self.adopting.pop(tp, None)
        return abandoned

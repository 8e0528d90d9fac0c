"""Per-partition book-keeping for concurrent processing with prefix commits.

Records of a partition are processed concurrently, but their outputs are published — in
one Kafka transaction with the consumer offset — only once every earlier record of the
partition has finished too. A crash can then never leave a published result above the
committed offset, which a restart would process and publish a second time. The price is
head-of-line waiting: a finished result waits for slower earlier ones of its partition
(see docs/BENCHMARKS.md for what that costs).

Offsets are tracked in fetch order, not as offset+1: transactional input topics have gaps
where commit markers sit, which consumers never see.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["PartitionLedger"]

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    offset: int
    outputs: Sequence[T] | None = None  # None while in flight
    finished_at: float = 0.0


@dataclass
class PartitionLedger(Generic[T]):
    entries: deque[_Entry[T]] = field(default_factory=deque)
    by_offset: dict[int, _Entry[T]] = field(default_factory=dict)
    #: set when the partition was revoked: late finishers are dropped, not published
    closed: bool = False

    def add(self, offset: int) -> None:
        entry: _Entry[T] = _Entry(offset)
        self.entries.append(entry)
        self.by_offset[offset] = entry

    def finish(self, offset: int, outputs: Sequence[T]) -> bool:
        """Record the outputs of a processed record; False if the partition was revoked."""
        entry = self.by_offset.get(offset)
        if self.closed or entry is None:
            return False
        entry.outputs = outputs
        entry.finished_at = time.monotonic()
        return True

    def committable(self) -> tuple[list[T], int | None, list[float]]:
        """(outputs of the finished prefix in order, the offset to commit, finish times).

        Only looks: `commit` removes the prefix once its transaction is committed."""
        outputs: list[T] = []
        finished: list[float] = []
        next_offset: int | None = None
        for entry in self.entries:
            if entry.outputs is None:
                break
            outputs.extend(entry.outputs)
            finished.append(entry.finished_at)
            next_offset = entry.offset + 1
        return outputs, next_offset, finished

    def commit(self, next_offset: int) -> None:
        while self.entries and self.entries[0].offset < next_offset:
            entry = self.entries.popleft()
            del self.by_offset[entry.offset]

    @property
    def uncommitted(self) -> int:
        """Records fetched and not yet committed: in flight, or finished behind a slower one."""
        return len(self.entries)

    @property
    def in_flight(self) -> int:
        return sum(1 for e in self.entries if e.outputs is None)

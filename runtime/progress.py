"""Per-partition book-keeping: what is in flight, finished, published; what to commit.

Records of a partition are processed concurrently. A finished record's outputs go into
the next transaction whatever the state of earlier records; that transaction commits

- the offset C of the first record still in flight (everything below it is published), and
- as the offset's metadata, which records above C are published too (`done_offsets`).

A worker that takes the partition over reads both (`fetch_stable_offsets`) and skips the
published records above C, so nothing is published twice and no result waits for a slower
earlier one. When the metadata would not fit Kafka's limit, records above C are held (not
published) until the prefix catches up; `Plan.held` counts them. A plan publishes at most
`max_records` records of the partition, so a transaction's size (and so its commit time)
stays bounded however far a starved worker fell behind; the rest wait for the next one as
if still in flight.

Offsets are tracked in fetch order, not as offset+1: transactional input topics have gaps
where commit markers sit, which consumers never see. Such a gap is counted as done.

Planning only looks. Every change (a record finished, a done record skipped) bumps a
change count; a plan carries the count it saw, and only `published` (its transaction
committed) settles the partition up to that count. A flush that fails anywhere — before a
producer exists, while sending, during the offset commit or EndTxn — settles nothing, so
the next plan is built again from everything not committed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from llmrouter.runtime.done_offsets import DEFAULT_LIMIT, DoneRanges, encode

__all__ = ["PartitionProgress", "Plan"]

T = TypeVar("T")


class _Entry(Generic[T]):
    __slots__ = ("done", "finished_at", "offset", "outputs")

    def __init__(self, offset: int, done: bool = False) -> None:
        self.offset = offset
        #: set when the record finished; dropped once published
        self.outputs: Sequence[T] | None = None
        #: published, by us or (skipped on assignment) by a previous owner
        self.done = done
        self.finished_at = 0.0

    @property
    def in_flight(self) -> bool:
        return self.outputs is None and not self.done


@dataclass
class Plan(Generic[T]):
    """One partition's part of the next transaction."""

    offset: int
    metadata: str
    outputs: list[T] = field(default_factory=list)
    publish: list[_Entry[T]] = field(default_factory=list)
    #: finished records kept back because the done-offsets record would not fit
    held: int = 0
    #: finished records left for the next transaction by the per-plan record cap
    capped: int = 0
    #: the partition's change count this plan saw (`PartitionProgress.published` settles it)
    changes: int = 0


class PartitionProgress(Generic[T]):
    def __init__(
        self,
        committed: int,
        skip: DoneRanges | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        max_records: int = 1000,
    ) -> None:
        self._max_records = max_records
        #: the offset last committed (by us or, on assignment, by the previous owner)
        self.committed = committed
        #: the next offset to accept; anything below was seen already
        self.position = committed
        self._skip = skip if skip else None
        self._limit = limit
        self._entries: deque[_Entry[T]] = deque()
        self._by_offset: dict[int, _Entry[T]] = {}
        #: changes seen (records finished or skipped), and how many are settled: committed,
        #: or found to need no commit. More changes than settled ones: plan again.
        self._changes = 0
        self._settled = 0
        #: set when the partition was revoked: late finishers are dropped, not published
        self.closed = False
        self.in_flight = 0
        #: finished, not yet published
        self.unpublished = 0
        self.skipped = 0
        #: finished records kept back by the last plan (the done-offsets record was full)
        self.held = 0
        #: plans that had to hold records back
        self.overflows = 0

    def accept(self, offset: int) -> bool | None:
        """A fetched record: True to process it, False when a previous owner already
        published it (skip), None when it was seen before (a re-fetch)."""
        if offset < self.position or self.closed:
            return None
        self.position = offset + 1
        done = self._skip is not None and offset in self._skip
        entry: _Entry[T] = _Entry(offset, done=done)
        self._entries.append(entry)
        if done:
            self.skipped += 1
            self._changes += 1
        else:
            self._by_offset[offset] = entry
            self.in_flight += 1
        if self._skip is not None and self._skip.end is not None and offset >= self._skip.end:
            self._skip = None
        return not done

    def finish(self, offset: int, outputs: Sequence[T]) -> bool:
        """Record the outputs of a processed record; False if the partition was revoked."""
        entry = self._by_offset.pop(offset, None)
        if self.closed or entry is None:
            return False
        entry.outputs = outputs
        entry.finished_at = time.monotonic()
        self.in_flight -= 1
        self.unpublished += 1
        self._changes += 1
        return True

    @property
    def dirty(self) -> bool:
        """Whether something changed since the last settled plan."""
        return self._changes != self._settled and not self.closed

    def plan(self) -> Plan[T] | None:
        """This partition's outputs and offset commit for the next transaction, or None
        when nothing changed since the last committed one. Only looks: `published` applies
        it, and a plan whose transaction failed is simply planned again."""
        if not self.dirty:
            return None
        changes = self._changes
        plan = self._plan(hold=False) or self._plan(hold=True)
        if plan is None:  # cannot happen while every committed record fit; stay dirty
            return None
        plan.changes = changes
        self.held = plan.held
        if plan.held:
            self.overflows += 1
        if plan.offset == self.committed and not plan.publish:
            # nothing to commit for these changes (all held back): wait for the next one
            self._settled = changes
            return None
        return plan

    def _plan(self, *, hold: bool) -> Plan[T] | None:
        entries = self._entries
        # The first `max_records` finished records may be published; later finished ones
        # behave as if still in flight (not published, not marked done) until next time.
        allowed: set[int] = set()
        capped = 0
        for e in entries:
            if e.outputs is not None:
                if len(allowed) < self._max_records:
                    allowed.add(e.offset)
                else:
                    capped += 1
        first = next(
            (
                i
                for i, e in enumerate(entries)
                if e.in_flight or (e.outputs is not None and e.offset not in allowed)
            ),
            None,
        )
        offset = self.position if first is None else entries[first].offset
        ranges: list[tuple[int, int]] = []
        publish: list[_Entry[T]] = []
        held = 0
        run_start: int | None = None
        previous = offset - 1
        for i, e in enumerate(entries):
            ready = e.outputs is not None and e.offset in allowed
            if ready:
                if hold and first is not None and i > first:
                    held += 1
                else:
                    publish.append(e)
            if first is None or i < first:
                continue
            if i == first:
                previous = e.offset
                continue
            done = e.done or (ready and not hold)
            if done and run_start is None:
                run_start = previous + 1
            elif not done and run_start is not None:
                ranges.append((run_start, previous + 1))
                run_start = None
            previous = e.offset
        if run_start is not None:
            ranges.append((run_start, previous + 1))
        if self._skip is not None:  # a previous owner's record, not fetched yet: keep it
            ranges += [(max(s, self.position), e) for s, e in self._skip if e > self.position]
        metadata = encode(offset, DoneRanges(ranges), self._limit)
        if metadata is None:
            return None
        outputs = [out for e in publish for out in e.outputs or ()]
        return Plan(offset, metadata, outputs, publish, held, capped)

    def published(self, plan: Plan[T]) -> list[float]:
        """The plan's transaction committed: returns the finish times of what it published."""
        finished = []
        for e in plan.publish:
            e.outputs = None
            e.done = True
            finished.append(e.finished_at)
        self.unpublished -= len(plan.publish)
        if not (plan.held or plan.capped):  # held or capped: plan the rest next time
            self._settled = max(self._settled, plan.changes)
        self.committed = plan.offset
        entries = self._entries
        while entries and entries[0].offset < plan.offset:
            entries.popleft()
        return finished

    @property
    def tracked(self) -> int:
        """Records fetched above the committed offset (in flight, unpublished, or done)."""
        return len(self._entries)

"""Which offsets above a partition's committed offset are already done: a compact record
committed, as the offset commit's metadata, in the same transaction as their outputs.

Why: records of a partition are processed concurrently and each one's outputs are
published in the next transaction, whatever the state of earlier records. The committed
offset can only be the end of the contiguous finished prefix, so a worker that takes the
partition over (after a crash, a restart or a rebalance) would process the finished
records above it again, and publish them twice. It reads this record instead and skips
them. The record and the outputs it describes are committed atomically, so they can never
disagree.

Format: ``llmr1:`` then URL-safe base64 (no padding) of unsigned LEB128 varints, relative
to the committed offset C:

    gap₀ run₀ gap₁ run₁ …     offsets [C+gap₀, C+gap₀+run₀) are done, then gap₁ not done, …

Every run and every gap after the first is at least 1; the empty set is the empty string
(what a plain commit writes). Offsets that hold no record a consumer sees (transaction
markers, aborted records) may be counted in either kind of run; the runtime puts them in
done runs, so only records still in flight break a run.

Size: Kafka refuses metadata over `offset.metadata.max.bytes` (4096 by default), so
`encode` returns None when the text would exceed `limit`; the worker then holds the
outputs above the prefix until the prefix catches up (and reports them as held,
`RuntimeMetrics.count_results_held`). A subset of an encodable set, taken above a larger
committed offset, is never longer — so what is already published always stays
describable.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["DEFAULT_LIMIT", "PREFIX", "DoneRanges", "decode", "encode"]

PREFIX = "llmr1:"
#: Kafka's default offset.metadata.max.bytes
DEFAULT_LIMIT = 4096


class DoneRanges:
    """Sorted, disjoint, non-adjacent half-open ranges of done offsets."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(r for r in ranges if r[1] > r[0]):
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        self._starts, self._ends = starts, ends

    @classmethod
    def of(cls, offsets: Iterable[int]) -> DoneRanges:
        return cls((o, o + 1) for o in offsets)

    def __contains__(self, offset: object) -> bool:
        if not isinstance(offset, int):
            return False
        i = bisect.bisect_right(self._starts, offset) - 1
        return i >= 0 and offset < self._ends[i]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DoneRanges) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"DoneRanges({list(self)!r})"

    @property
    def end(self) -> int | None:
        """One past the highest done offset."""
        return self._ends[-1] if self._ends else None

    def offsets(self) -> Iterator[int]:
        for start, end in self:
            yield from range(start, end)


def _varint(value: int, out: bytearray) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _varints(data: bytes) -> list[int]:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")
        else:
            values.append(value)
            value = shift = 0
    if shift:
        raise ValueError("truncated varint")
    return values


def encode(
    committed: int, done: DoneRanges | Sequence[tuple[int, int]], limit: int = DEFAULT_LIMIT
) -> str | None:
    """The metadata describing `done` (every offset in it ≥ `committed`), or None when it
    would be longer than `limit` characters."""
    ranges = done if isinstance(done, DoneRanges) else DoneRanges(done)
    if not ranges:
        return ""
    raw = bytearray()
    cursor = committed
    for start, end in ranges:
        if start < committed:
            raise ValueError(f"done offset {start} is below the committed offset {committed}")
        _varint(start - cursor, raw)
        _varint(end - start, raw)
        cursor = end
        # base64 turns 3 bytes into 4 characters: stop early on hopeless input
        if len(PREFIX) + (len(raw) * 4 + 2) // 3 > limit:
            return None
    return PREFIX + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode("ascii")


def decode(committed: int, metadata: str) -> DoneRanges:
    """The done offsets recorded in `metadata` (committed with offset `committed`).

    Metadata this project did not write (empty, or another tool's) means nothing is done;
    a corrupt record raises ValueError."""
    if not metadata.startswith(PREFIX):
        return DoneRanges()
    text = metadata[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise ValueError(f"done-offsets record is not base64: {exc}") from None
    values = _varints(raw)
    if len(values) % 2:
        raise ValueError("done-offsets record has a gap without its run")
    ranges = []
    cursor = committed
    for i in range(0, len(values), 2):
        gap, run = values[i], values[i + 1]
        if run < 1 or (i and gap < 1):
            raise ValueError("done-offsets record has an empty run")
        start = cursor + gap
        ranges.append((start, start + run))
        cursor = start + run
    return DoneRanges(ranges)

"""The done-offsets record and the per-partition progress it is built from: property tests.

The central property: whatever order records finish in and whenever transactions commit,
a new owner that reads the committed offset and its metadata processes exactly the records
whose outputs were not committed — never one twice, never one lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrouter.runtime.done_offsets import PREFIX, DoneRanges, decode, encode
from llmrouter.runtime.progress import PartitionProgress

ranges_st = st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 300)), max_size=60).map(
    lambda pairs: DoneRanges((s, s + n) for s, n in pairs)
)


@given(committed=st.integers(0, 10**12), done=ranges_st)
def test_encoding_round_trips(committed: int, done: DoneRanges) -> None:
    shifted = DoneRanges((committed + s, committed + e) for s, e in done)
    text = encode(committed, shifted, limit=10**6)
    assert text is not None
    assert text == "" or (text.startswith(PREFIX) and text.isascii())
    assert decode(committed, text) == shifted


@given(committed=st.integers(0, 10**9), done=ranges_st, limit=st.integers(8, 200))
def test_encoding_respects_the_limit(committed: int, done: DoneRanges, limit: int) -> None:
    shifted = DoneRanges((committed + s, committed + e) for s, e in done)
    text = encode(committed, shifted, limit=limit)
    if text is not None:
        assert len(text) <= limit
        assert decode(committed, text) == shifted
    else:
        assert len(encode(committed, shifted, limit=10**6) or "") > limit


@given(done=ranges_st, cut=st.integers(0, 6000))
def test_a_subset_above_a_later_offset_is_never_longer(done: DoneRanges, cut: int) -> None:
    later = DoneRanges((max(s, cut), e) for s, e in done if e > cut)
    assert len(encode(cut, later, limit=10**6) or "") <= len(encode(0, done, limit=10**6) or "")


def test_foreign_or_empty_metadata_means_nothing_done() -> None:
    assert not decode(10, "")
    assert not decode(10, "some other tool's note")
    with pytest.raises(ValueError, match="truncated"):
        decode(10, PREFIX + "gA")  # a truncated varint


def test_a_thousand_scattered_holes_fit_kafkas_default_limit() -> None:
    done = DoneRanges((100 + 3 * i + 1, 100 + 3 * i + 3) for i in range(1000))
    text = encode(100, done)
    assert text is not None
    assert len(text) <= 4096


# -- progress ------------------------------------------------------------------------------


def _takeover(committed: int, metadata: str, offsets: list[int]) -> list[int]:
    """What a new owner processes of `offsets`, given what was committed."""
    progress: PartitionProgress[int] = PartitionProgress(committed, decode(committed, metadata))
    return [o for o in offsets if o >= committed and progress.accept(o)]


steps_st = st.lists(
    st.one_of(
        st.tuples(st.just("finish"), st.integers(0, 10**6)),
        st.tuples(st.just("commit"), st.just(0)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 3), min_size=1, max_size=80),
    steps=steps_st,
    limit=st.sampled_from([12, 24, 4096]),
    resume=st.integers(0, 40),
    cap=st.sampled_from([1, 3, 1000]),
)
def test_a_new_owner_processes_exactly_what_was_not_published(
    gaps: list[int], steps: list[tuple[str, int]], limit: int, resume: int, cap: int
) -> None:
    offsets = []
    o = 7
    for g in gaps:  # gaps > 1 stand for transaction markers
        offsets.append(o)
        o += g
    # A first owner; a second takes over after `resume` of its commits.
    published: list[int] = []
    committed, metadata = 7, ""
    for owner in range(2):
        todo = _takeover(committed, metadata, offsets)
        progress: PartitionProgress[int] = PartitionProgress(
            committed, decode(committed, metadata), limit=limit, max_records=cap
        )
        fetched = [x for x in offsets if x >= committed and progress.accept(x)]
        assert fetched == todo
        running = list(fetched)
        commits = 0
        for kind, pick in steps if owner == 0 else [*steps, *[("finish", 0)] * 80, ("commit", 0)]:
            if kind == "finish" and running:
                offset = running.pop(pick % len(running))
                assert progress.finish(offset, [offset])
            elif kind == "commit":
                plan = progress.plan()
                if plan is None:
                    continue
                assert len(plan.metadata) <= limit
                published += plan.outputs
                progress.published(plan)
                committed, metadata = plan.offset, plan.metadata
                commits += 1
                if owner == 0 and commits >= resume:
                    break  # the first owner crashes here
        if owner == 1:
            while (plan := progress.plan()) is not None:
                published += plan.outputs
                progress.published(plan)
    assert sorted(published) == offsets, "every record published exactly once"


def test_held_records_are_published_once_the_prefix_catches_up() -> None:
    progress: PartitionProgress[str] = PartitionProgress(0, limit=len(PREFIX) + 4)
    for offset in range(8):
        assert progress.accept(offset)
    for offset in (1, 3, 5, 7):  # four islands: more than the tiny limit can describe
        progress.finish(offset, [f"r{offset}"])
    assert progress.plan() is None  # everything held, nothing to commit
    assert progress.held == 4
    assert progress.overflows == 1
    published: list[str] = []
    last = 0
    for offset in (0, 2, 4, 6):
        progress.finish(offset, [f"r{offset}"])
        plan = progress.plan()
        assert plan is not None
        assert len(plan.metadata) <= len(PREFIX) + 4
        published += plan.outputs
        progress.published(plan)
        last = plan.offset
    assert last == 8
    assert progress.held == 0
    assert sorted(published) == [f"r{o}" for o in range(8)]


def test_a_plan_publishes_at_most_its_cap_and_the_rest_next_time() -> None:
    progress: PartitionProgress[int] = PartitionProgress(0, max_records=3)
    for offset in range(10):
        assert progress.accept(offset)
    for offset in (9, 0, 1, 2, 4, 5):
        progress.finish(offset, [offset])
    plan = progress.plan()
    assert plan is not None
    assert plan.outputs == [0, 1, 2]
    assert plan.capped == 3
    assert plan.offset == 3  # record 3 is in flight
    progress.published(plan)
    plan = progress.plan()
    assert plan is not None
    assert plan.outputs == [4, 5, 9]
    assert plan.capped == 0

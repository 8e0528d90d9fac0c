"""A flush that fails anywhere forgets nothing, and a commit of unknown outcome is read back
before anything is published again.

The planner and the publisher's resolution logic run here against a fake transactional
producer over an in-memory "cluster" (what it committed: outputs and offsets), which can
fail at each step of the transaction; tests/runtime/test_ambiguous_commit.py injects the
ambiguous commit on the real broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrouter.core.errors import KafkaUnavailable
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime import publisher as publisher_module
from llmrouter.runtime.book import PartitionBook
from llmrouter.runtime.commit_outcome import committed_as_planned
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.progress import PartitionProgress, Plan
from llmrouter.runtime.publisher import Publisher
from llmrouter.runtime.reporting import NO_METRICS
from llmrouter.runtime.stats import RuntimeStats

TP = TopicPartition("requests", 0)
GROUP = "router"


# -- the planner ---------------------------------------------------------------------------


def test_a_plan_only_looks_until_its_transaction_commits() -> None:
    progress: PartitionProgress[int] = PartitionProgress(0)
    for offset in range(3):
        progress.accept(offset)
    progress.finish(1, [1])
    first = progress.plan()
    assert first is not None
    # the flush failed (no producer, a send, the offset commit, EndTxn): plan again
    again = progress.plan()
    assert again is not None
    assert (again.offset, again.metadata, again.outputs) == (first.offset, first.metadata, [1])
    progress.finish(0, [0])  # finishes while the next transaction commits
    committing = progress.plan()
    assert committing is not None
    progress.finish(2, [2])
    progress.published(committing)
    last = progress.plan()  # what finished during the commit is still to be published
    assert last is not None
    assert last.outputs == [2]
    progress.published(last)
    assert progress.plan() is None


steps_st = st.lists(
    st.one_of(
        st.tuples(st.just("finish"), st.integers(0, 10**6)),
        st.tuples(st.sampled_from(["commit", "fail"]), st.just(0)),
    ),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(count=st.integers(1, 40), steps=steps_st, cap=st.sampled_from([2, 1000]))
def test_failed_flushes_republish_exactly_what_was_not_committed(
    count: int, steps: list[tuple[str, int]], cap: int
) -> None:
    progress: PartitionProgress[int] = PartitionProgress(0, max_records=cap)
    for offset in range(count):
        assert progress.accept(offset)
    running = list(range(count))
    published: list[int] = []
    for kind, pick in [*steps, *[("finish", 0)] * count]:
        if kind == "finish" and running:
            offset = running.pop(pick % len(running))
            assert progress.finish(offset, [offset])
        elif kind in ("commit", "fail"):
            plan = progress.plan()
            if plan is not None and kind == "commit":
                published += plan.outputs
                progress.published(plan)
    while (plan := progress.plan()) is not None:  # the flushes that follow, all fine
        published += plan.outputs
        progress.published(plan)
    assert sorted(published) == list(range(count)), "each record published exactly once"
    assert progress.committed == count


def test_the_commit_found_is_compared_with_the_plan() -> None:
    plan: Plan[int] = Plan(offset=5, metadata="llmr1:AQE")
    other = TopicPartition("requests", 1)
    assert committed_as_planned({TP: plan}, {TP: OffsetAndMetadata(5, "llmr1:AQE")})
    assert not committed_as_planned({TP: plan}, {TP: OffsetAndMetadata(5, "")})
    assert not committed_as_planned({TP: plan}, {TP: OffsetAndMetadata(3, "llmr1:AQE")})
    assert not committed_as_planned({TP: plan}, {TP: None})
    assert not committed_as_planned({TP: plan}, {})
    # the partitions of one transaction commit together: one that shows it is enough
    both = {TP: plan, other: Plan(offset=9, metadata="")}
    assert committed_as_planned(both, {TP: OffsetAndMetadata(5, "llmr1:AQE"), other: None})


# -- the publisher, over a fake producer ---------------------------------------------------


@dataclass
class Cluster:
    """What became visible to read_committed readers, and the group's committed offsets."""

    outputs: list[bytes] = field(default_factory=list)
    offsets: dict[TopicPartition, OffsetAndMetadata] = field(default_factory=dict)


class FakeProducer:
    """A transactional producer that fails once at `fail_at`.

    "send", "offsets": the step raises (the abort then succeeds); "commit": EndTxn raises
    before reaching the coordinator; "commit_landed": EndTxn commits at the coordinator,
    then the caller gets a timeout. In both "commit" cases the abort fails, as aiokafka's
    does once EndTxn(commit) was requested."""

    def __init__(self, cluster: Cluster, fail_at: str | None = None) -> None:
        self.cluster = cluster
        self.fail_at = fail_at
        self._outputs: list[bytes] = []
        self._offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        self.aborts = 0

    def _fail(self, step: str) -> None:
        if self.fail_at == step:
            self.fail_at = None
            raise TimeoutError(f"injected at {step}")

    async def begin_transaction(self) -> None:
        self._outputs, self._offsets = [], {}

    async def send(self, topic: str, value: bytes, **_: Any) -> None:
        self._fail("send")
        self._outputs.append(value)

    async def send_offsets_to_transaction(
        self, offsets: dict[TopicPartition, OffsetAndMetadata], group_id: str
    ) -> None:
        assert group_id == GROUP
        self._fail("offsets")
        self._offsets = dict(offsets)

    async def commit_transaction(self) -> None:
        if self.fail_at == "commit_landed":
            self._commit()
        self._fail("commit_landed")
        if self.fail_at == "commit":
            self.fail_at = "no_abort"
            raise TimeoutError("injected at commit")
        self._commit()

    def _commit(self) -> None:
        self.cluster.outputs += self._outputs
        self.cluster.offsets.update(self._offsets)

    async def abort_transaction(self) -> None:
        if self.fail_at == "no_abort" or self._offsets_landed():
            raise AssertionError("Invalid state transition")  # aiokafka's, mid-EndTxn
        self.aborts += 1

    def _offsets_landed(self) -> bool:
        return bool(self._offsets) and all(
            self.cluster.offsets.get(tp) == om for tp, om in self._offsets.items()
        )

    async def stop(self) -> None:
        pass


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The fake cluster; the publisher reads its committed offsets back from it."""
    cluster = Cluster()

    async def fetch(
        consumer: object, group_id: str, partitions: Iterable[TopicPartition], **_: Any
    ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        assert group_id == GROUP
        return {tp: cluster.offsets.get(tp) for tp in partitions}

    monkeypatch.setattr(publisher_module, "fetch_stable_offsets", fetch)
    return cluster


def _publisher(finished: Iterable[int], in_flight: Iterable[int] = ()) -> Publisher:
    options = WorkerOptions(
        name="router", group_id=GROUP, pattern="^requests$", transactional_id="t"
    )
    book = PartitionBook()
    progress: PartitionProgress[Output] = PartitionProgress(0)
    book.progress[TP] = progress
    offsets = sorted([*finished, *in_flight])
    for offset in offsets:
        assert progress.accept(offset)
    for offset in finished:
        assert progress.finish(offset, [Output("results", str(offset).encode())])
    publisher = Publisher(options, KafkaSettings(), book, RuntimeStats(), NO_METRICS)
    publisher._consumer = object()  # offsets are read from `cluster`
    return publisher


def _use(publisher: Publisher, producer: FakeProducer) -> None:
    publisher._producer = producer


async def test_a_flush_without_a_producer_forgets_nothing(cluster: Cluster) -> None:
    publisher = _publisher(finished=[0, 2], in_flight=[1])
    with pytest.raises(KafkaUnavailable, match="no transactional producer"):
        await publisher.flush()
    # the partition stays quiet: nothing else finishes, and still its outputs go out
    _use(publisher, FakeProducer(cluster))
    await publisher.flush()
    assert sorted(cluster.outputs) == [b"0", b"2"]
    assert cluster.offsets[TP].offset == 1
    await publisher.flush()
    assert len(cluster.outputs) == 2


@pytest.mark.parametrize("step", ["send", "offsets", "commit"])
async def test_a_flush_failing_at_any_step_is_planned_again(cluster: Cluster, step: str) -> None:
    publisher = _publisher(finished=[0, 1, 3], in_flight=[2])
    failing = FakeProducer(cluster, fail_at=step)
    _use(publisher, failing)
    with pytest.raises(TimeoutError, match=f"injected at {step}"):
        await publisher.flush()
    assert cluster.outputs == []
    assert failing.aborts == (0 if step == "commit" else 1)
    _use(publisher, FakeProducer(cluster))  # the flush loop's fresh producer
    await publisher.flush()
    assert sorted(cluster.outputs) == [b"0", b"1", b"3"]
    assert cluster.offsets[TP].offset == 2
    assert publisher.found_committed == 0
    assert publisher.found_not_committed == (1 if step == "commit" else 0)


async def test_a_commit_that_landed_is_not_published_again(cluster: Cluster) -> None:
    publisher = _publisher(finished=[0, 1, 3], in_flight=[2])
    failing = FakeProducer(cluster, fail_at="commit_landed")
    _use(publisher, failing)
    with pytest.raises(TimeoutError, match="commit_landed"):
        await publisher.flush()
    landed = OffsetAndMetadata(cluster.offsets[TP].offset, cluster.offsets[TP].metadata)
    assert sorted(cluster.outputs) == [b"0", b"1", b"3"]
    # the producer that ran it may still commit: no answer until a fresh one replaced it
    with pytest.raises(KafkaUnavailable, match="outcome is unknown"):
        await publisher.flush()
    _use(publisher, FakeProducer(cluster))
    await publisher.flush()
    assert sorted(cluster.outputs) == [b"0", b"1", b"3"], "nothing published twice"
    assert cluster.offsets[TP] == landed
    assert publisher.found_committed == 1
    assert publisher._stats.committed == 3
    # and the partition goes on from there
    progress = publisher._book.progress[TP]
    assert progress.finish(2, [Output("results", b"2")])
    await publisher.flush()
    assert sorted(cluster.outputs) == [b"0", b"1", b"2", b"3"]
    assert cluster.offsets[TP] == OffsetAndMetadata(4, "")


async def test_a_revoked_partition_is_left_to_its_next_owner(cluster: Cluster) -> None:
    publisher = _publisher(finished=[0])
    _use(publisher, FakeProducer(cluster, fail_at="commit"))
    with pytest.raises(TimeoutError):
        await publisher.flush()
    publisher._book.release([TP])
    _use(publisher, FakeProducer(cluster))
    await publisher.flush()  # nothing held, nothing to read back or republish
    assert cluster.outputs == []
    assert publisher.found_committed == publisher.found_not_committed == 0

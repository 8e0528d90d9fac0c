"""Lanes share a worker's `max_in_flight`: each gets a share by weight, may borrow what the
others do not use, and never takes the headroom the others keep for their next records."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.lanes import ONE_LANE, Lanes, lane_caps
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.worker import TransactionalWorker
from tests.runtime.helpers import read_all

TOTAL = 800


def test_one_lane_is_the_whole_pool() -> None:
    caps = lane_caps(ONE_LANE, TOTAL, {"": 500}, {""})
    assert caps.shares == {"": TOTAL}
    assert caps.caps == {"": TOTAL}


def test_equal_weights_give_equal_shares_and_a_busy_lane_borrows_from_an_idle_one() -> None:
    lanes = Lanes(reserve_fraction=0.125)
    caps = lane_caps(lanes, TOTAL, {"flood": 700}, {"flood", "steady"})
    assert caps.shares == {"flood": 400, "steady": 400}
    assert caps.headroom == {"flood": 50, "steady": 50}
    # the idle lane keeps 1/8 of its share free for its next records; the rest is lent
    assert caps.caps["flood"] == TOTAL - 50
    assert caps.caps["steady"] == TOTAL - 400


def test_a_lane_that_wakes_up_takes_back_its_share_as_it_uses_it() -> None:
    lanes = Lanes(reserve_fraction=0.125)
    present = {"flood", "steady"}
    for steady_busy, flood_cap in [(0, 750), (50, 700), (300, 450), (400, 400), (600, 400)]:
        caps = lane_caps(lanes, TOTAL, {"flood": 750, "steady": steady_busy}, present)
        assert caps.caps["flood"] == flood_cap, steady_busy
        # whatever the other lane holds, each keeps at least its own share
        assert caps.caps["flood"] >= caps.shares["flood"]
        assert caps.caps["steady"] >= caps.shares["steady"]


def test_weights_split_the_pool_and_unnamed_lanes_weigh_the_default() -> None:
    lanes = Lanes(weights={"chat": 3.0})
    caps = lane_caps(lanes, TOTAL, {}, {"chat", "nightly"})
    assert caps.shares == {"chat": 600, "nightly": 200}


def test_a_lane_still_holding_records_after_losing_its_partitions_counts() -> None:
    caps = lane_caps(Lanes(), TOTAL, {"gone": 10}, {"kept"})
    assert set(caps.shares) == {"gone", "kept"}


def test_every_lane_gets_at_least_one_record_however_many_there_are() -> None:
    caps = lane_caps(Lanes(), 4, {}, {f"t{i}" for i in range(10)})
    assert set(caps.shares.values()) == {1}


@pytest.mark.parametrize(
    "lanes",
    [
        lambda: Lanes(weights={"a": 0.0}),
        lambda: Lanes(default_weight=-1.0),
        lambda: Lanes(reserve_fraction=1.5),
    ],
)
def test_bad_weights_are_refused(lanes: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        lanes()  # type: ignore[operator]


# -- on the real broker ----------------------------------------------------------------------


async def test_a_lane_at_its_cap_pauses_alone_while_another_keeps_going(
    kafka_bootstrap: str,
) -> None:
    suffix = uuid.uuid4().hex[:10]
    flood, steady, sink = f"lane-a-{suffix}", f"lane-b-{suffix}", f"lane-out-{suffix}"
    await ensure_topics(kafka_bootstrap, {flood: 2, steady: 2, sink: 1})
    held = asyncio.Event()  # the flood's records never finish until the end
    flood_running = flood_peak = 0

    async def handler(record: ConsumerRecord[bytes, bytes]) -> Sequence[Output]:
        nonlocal flood_running, flood_peak
        if record.topic == flood:
            flood_running += 1
            flood_peak = max(flood_peak, flood_running)
            try:
                await held.wait()
            finally:
                flood_running -= 1
        return [Output(sink, record.value)]

    def on_error(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
        raise AssertionError(f"the handler raised {exc!r}")

    worker = TransactionalWorker(
        WorkerOptions(
            name="lanes",
            group_id=f"lanes-{suffix}",
            pattern=rf"^lane-[ab]-{suffix}$",
            transactional_id=f"lanes-{suffix}",
            max_in_flight=MAX_IN_FLIGHT,
            metadata_max_age_ms=1000,
            session_timeout_ms=6000,
            grace_s=1.0,
        ),
        KafkaSettings(bootstrap_servers=kafka_bootstrap),
        handler,
        on_error,
        lanes=Lanes(of=lambda topic: topic.split("-")[1], reserve_fraction=0.25),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(FLOODED):
            await producer.send(flood, b"a%d" % i)
        for i in range(STEADY):
            await producer.send(steady, b"b%d" % i)
        await producer.flush()
    finally:
        await producer.stop()
    await worker.start()
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        # every steady record is answered while the flood holds what it may of the pool
        published = await read_all(kafka_bootstrap, sink, expected=STEADY, settle_s=0, timeout_s=60)
        assert sorted(published) == sorted(b"b%d" % i for i in range(STEADY))
        # the flood took what the steady lane did not keep, never the whole pool
        assert flood_running == flood_peak
        assert 0 < flood_peak < MAX_IN_FLIGHT
        assert worker.in_flight <= MAX_IN_FLIGHT
    finally:
        held.set()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 60)
    assert worker.fatal is None


MAX_IN_FLIGHT = 8
FLOODED = 50
STEADY = 10

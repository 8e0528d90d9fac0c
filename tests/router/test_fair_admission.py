"""Admission to a model's limits is fair across tasks: callers wait in one FIFO queue per
task, served round-robin, so a flood of one task does not queue in front of another's
calls — per process (concurrency gate and buckets) and through the shared store. And a
realtime call's wait is bounded by default when its model sets no `queue_s`."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from llmrouter.core.errors import LimitQueueFull
from llmrouter.router.config import ModelSpec, Provider
from llmrouter.router.config_defaults import Defaults
from llmrouter.router.fair_queue import FairLock
from llmrouter.router.ratelimit import ModelLimiter, queue_bound_s
from llmrouter.router.state import StateStore
from llmrouter.router.state.limits import SharedLimiter
from llmrouter.schemas import LLMRequest, Priority, ResultStatus
from tests.factories import catalog, routing_config, static_route
from tests.router.conftest import MakeRouter
from tests.router.test_ratelimit import until

FLOOD = 20


def spec(
    *, rpm: int | None = None, max_concurrency: int = 64, queue_s: float | None = None
) -> ModelSpec:
    return ModelSpec(
        provider=Provider.OPENAI,
        model_id="gpt-test",
        input_usd_per_1k=Decimal(0),
        output_usd_per_1k=Decimal(0),
        max_concurrency=max_concurrency,
        rpm=rpm,
        queue_s=queue_s,
    )


class HeldTime:
    """A clock and a sleep that advances it, but returns only once `go` is set: every
    caller is queued before the first one is let in."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.go = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await self.go.wait()
        self.now += seconds


async def test_the_lock_passes_round_robin_across_tasks() -> None:
    lock = FairLock()
    order: list[str] = []

    async def take(task: str) -> None:
        await lock.acquire(task)
        order.append(task)
        lock.release()

    await lock.acquire("a")
    waiters = [asyncio.create_task(take(t)) for t in ("a", "a", "a", "b", "c", "b")]
    await until(lambda: len(lock._waiters) == 6)
    lock.release()
    await asyncio.gather(*waiters)
    assert order == ["a", "b", "c", "a", "b", "a"]
    assert not lock.locked()


async def test_a_cancelled_waiter_gives_up_its_place_and_takes_nothing() -> None:
    lock = FairLock()
    await lock.acquire("a")
    gone = asyncio.create_task(lock.acquire("b"))
    stays = asyncio.create_task(lock.acquire("c"))
    await until(lambda: len(lock._waiters) == 2)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    lock.release()
    await stays
    assert lock.locked()
    assert not lock._waiters
    lock.release()
    assert not lock.locked()


async def test_a_flood_on_the_buckets_does_not_queue_in_front_of_another_task() -> None:
    held = HeldTime()
    # empty buckets: every admission waits for the refill, in the order the lock gives
    limiter = ModelLimiter(spec(rpm=60), clock=held.clock, sleep=held.sleep, start_full=False)
    order: list[str] = []

    async def call(task: str) -> None:
        async with limiter.slot(1, task=task):
            order.append(task)

    flood = [asyncio.create_task(call("flood")) for _ in range(FLOOD)]
    await until(lambda: limiter.waiting == FLOOD)
    steady = asyncio.create_task(call("steady"))
    await until(lambda: limiter.waiting == FLOOD + 1)
    held.go.set()
    await asyncio.gather(*flood, steady)
    assert len(order) == FLOOD + 1
    # the flood's head held the buckets; after it, one more of the flood at most
    assert order.index("steady") <= 2, order
    assert (limiter.in_flight, limiter.waiting) == (0, 0)


async def test_a_flood_on_the_concurrency_gate_does_not_queue_in_front_of_another_task() -> None:
    limiter = ModelLimiter(spec(max_concurrency=1))
    order: list[str] = []
    release = asyncio.Event()

    async def call(task: str) -> None:
        async with limiter.slot(1, task=task):
            order.append(task)
            await release.wait()

    flood = [asyncio.create_task(call("flood")) for _ in range(FLOOD)]
    await until(lambda: limiter.in_flight == 1 and limiter.waiting == FLOOD - 1)
    steady = asyncio.create_task(call("steady"))
    await until(lambda: limiter.waiting == FLOOD)
    release.set()
    await asyncio.gather(*flood, steady)
    assert order.index("steady") <= 2, order


async def test_the_shared_limiter_lets_another_task_in_before_the_flood(
    state_store: StateStore,
) -> None:
    # rpm 2 over a 0.5 s window: the head of the queue asks the store every few hundred ms
    limiter = SharedLimiter(f"m-{uuid.uuid4().hex[:8]}", spec(rpm=2), state_store, window_s=0.5)
    order: list[str] = []

    async def call(task: str) -> None:
        async with limiter.slot(1, task=task):
            order.append(task)

    await asyncio.gather(call("warm"), call("warm"))  # the window is full
    flood = [asyncio.create_task(call("flood")) for _ in range(6)]
    await until(lambda: limiter.waiting == 6)
    steady = asyncio.create_task(call("steady"))
    await until(lambda: limiter.waiting == 7)
    async with asyncio.timeout(60):
        await asyncio.gather(*flood, steady)
    admitted = order[2:]
    assert sorted(admitted) == sorted(["flood"] * 6 + ["steady"])
    assert admitted.index("steady") <= 2, admitted


# -- the default bound on a realtime call's wait --------------------------------------------


def test_a_model_queue_s_wins_over_the_default() -> None:
    assert Defaults().realtime_queue_s == 2.0
    assert queue_bound_s(spec(queue_s=7.0), 2.0) == 7.0
    assert queue_bound_s(spec(queue_s=0.0), 2.0) == 0.0
    assert queue_bound_s(spec(), 2.0) == 2.0
    assert queue_bound_s(spec(), None) is None


async def test_a_realtime_caller_waits_at_most_the_default_a_batch_one_longer() -> None:
    limiter = ModelLimiter(spec(rpm=60), model="m", start_full=False)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(LimitQueueFull) as info:
        async with limiter.slot(1, task="rt", default_queue_s=0.05):
            raise AssertionError("admitted before the refill")
    assert info.value.queue_s == 0.05
    # a batch caller (no default bound) waits for the refill: a second, then admitted
    async with limiter.slot(1, task="batch", default_queue_s=None):
        pass
    assert loop.time() - started >= 0.9


async def test_the_router_turns_a_realtime_call_away_and_lets_a_batch_call_wait(
    make_router: MakeRouter,
) -> None:
    config = routing_config(
        defaults={"cache": {"enabled": False}, "realtime_queue_s": 0.1},
        models=catalog("cheap", "mid", cheap={"rpm": 60}),
        tasks={"qa": static_route("cheap", "mid")},
    )
    router = await make_router(config)

    def request(text: str, priority: Priority | None = None) -> LLMRequest:
        return LLMRequest(request_id=uuid.uuid4().hex, task="qa", input=text, priority=priority)

    # a minute's 60 calls spent: the bucket refills one call a second from here
    spent = await asyncio.gather(*(router.route(request(f"q{i}")) for i in range(60)))
    assert {r.result.model for r in spent} == {"cheap"}
    # a realtime request moves on to the fallback within the default bound, having made
    # no call on the limited model
    realtime = await router.route(request("now"))
    assert realtime.result.status is ResultStatus.OK
    assert realtime.result.model == "mid"
    # a batch request waits for the limited model instead
    batch = await router.route(request("later", Priority.BATCH))
    assert batch.result.status is ResultStatus.OK
    assert batch.result.model == "cheap"

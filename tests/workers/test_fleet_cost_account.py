"""The provider's bill against `llm.costs` across rebalances and a SIGKILL, on the real
broker and a real redis-server: router processes join (a second, a third), one is
SIGKILLed and one leaves (SIGTERM) while calls of 9 s are in flight, so rebalances and
the leaving process's shutdown cut calls off past their grace. Every call the simulator saw has its cost event — each cut
off call an `abandoned` one, published by the process that made it — except the calls
the SIGKILLed process had in flight, which are counted; no call has two, and every
request has one result whose attempts are exactly its other cost events."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from llmrouter.producers import RequestProducer
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import (
    COSTS_TOPIC,
    AttemptOutcome,
    CostEvent,
    LLMRequest,
    LLMResult,
    ResultStatus,
    results_topic,
)
from llmrouter.simulator import SimConfig, create_app, engine_of, running
from llmrouter.simulator.journal import CallJournal, CallRecord
from tests.factories import catalog, routing_config, static_route
from tests.workers.conftest import read_topic
from tests.workers.fleet import Fleet, MakeFleet, make_fleet  # noqa: F401

SLOW_MS = 9_000  # longer than the 5 s grace (of a rebalance, of a shutdown) and then some
SLOW = "[[sim:latency_ms={ms}]]"
FIRST, SECOND = 24, 18  # requests before the joins; while three routers run
# A request the killed process sent just before the SIGKILL can still be read by the
# simulator (this test's event loop) just after it; one it had answered just before may
# not have had its result kept yet (a few redis round trips).
READ_AFTER_SEND_S = 1.0
STORE_AFTER_ANSWER_S = 1.0

# `make_fleet` formats `{qa}` with the test's own task name.
CONFIG = routing_config(
    defaults={"cache": {"enabled": False}},
    models=catalog("mid"),
    tasks={"{qa}": static_route("mid")},
)


@dataclass
class Sim:
    url: str
    journal: CallJournal

    def in_flight(self) -> int:
        return sum(c.ended_at is None for c in self.journal.calls())


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    app = create_app(SimConfig(latency_ms=200, seed=17))
    async with running(app=app) as url:
        yield Sim(url, engine_of(app).journal)


def text(i: int, ms: int) -> str:
    """Request `i`'s input: its own prompt, and how long its calls take."""
    return f"account question {i} " + SLOW.format(ms=ms)


async def publish(fleet: Fleet, first: int, count: int, *, fast_every: int) -> dict[str, int]:
    """Requests `first`..`first+count-1`, one in `fast_every` fast (0: none), the others
    slow; their ids, with their index."""
    ids: dict[str, int] = {}
    async with RequestProducer.from_env(fleet.bootstrap) as producer:
        for i in range(first, first + count):
            ms = 200 if fast_every and i % fast_every == 0 else SLOW_MS
            ids[await producer.submit(fleet.tasks["qa"], text(i, ms))] = i
    return ids


async def prompt_hashes(config_text: str, task: str, count: int) -> list[str]:
    """Request `i`'s prompt hash as the simulator journals it, for each `i` below `count`:
    its prompt sent through the same routing to a simulator of its own (markers are not
    hashed, so a latency of 0 stands in for the request's)."""
    app = create_app(SimConfig(latency_ms=0, seed=1))
    config = parse_config(config_text)
    async with running(app=app) as url:
        router = RoutingEngine(config, pool=ProviderPool(config.models, simulator_url=url))
        try:
            hashes = []
            for i in range(count):
                probe = LLMRequest(request_id=f"probe-{i}", task=task, input=text(i, 0))
                assert (await router.route(probe)).result.status is ResultStatus.OK
                hashes.append(engine_of(app).journal.calls()[-1].prompt_hash)
            return hashes
        finally:
            await router.aclose()


def in_flight_at(call: CallRecord, killed_at: float) -> bool:
    """Whether `call` may have been cut off by the SIGKILL at `killed_at`."""
    return call.started_at < killed_at + READ_AFTER_SEND_S and (
        call.ended_at is None or call.ended_at > killed_at - STORE_AFTER_ANSWER_S
    )


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_every_provider_call_has_its_cost_event_across_rebalances_and_a_sigkill(
    make_fleet: MakeFleet,  # noqa: F811
    redis_url: str,
    sim: Sim,
) -> None:
    fleet = await make_fleet(CONFIG, tasks=("qa",), sim_url=sim.url, redis_url=redis_url)
    task = fleet.tasks["qa"]
    prompt_of = await prompt_hashes(fleet.config_file.read_text(), task, FIRST + SECOND)
    assert len(set(prompt_of)) == FIRST + SECOND  # one prompt per request
    await fleet.spawn("classifier", "classifier")
    await fleet.spawn("a", "router")
    await fleet.settled(routers=1)

    # A second router joins while A's slow calls are in flight, then a third.
    ids = await publish(fleet, 0, FIRST, fast_every=3)
    await sim.journal.wait_until(lambda calls: len(calls) >= FIRST, timeout_s=60)
    await fleet.spawn("b", "router")
    await fleet.settled(routers=2)
    await fleet.spawn("c", "router")
    await fleet.settled(routers=3)

    # C is SIGKILLed with calls in flight; then B leaves.
    # All slow, and all in flight at the SIGKILL: C surely has some of them.
    ids |= await publish(fleet, FIRST, SECOND, fast_every=0)
    second = set(prompt_of[FIRST:])
    await sim.journal.wait_until(
        lambda calls: second <= {c.prompt_hash for c in calls if c.ended_at is None},
        timeout_s=60,
    )
    killed_at = time.monotonic()
    fleet.kill("c")
    await fleet.procs["c"].wait()
    await fleet.settled(routers=2)  # C's partitions moved (its calls cut off, again)
    assert await fleet.stop("b") == 0, fleet.tails()

    results = await read_topic(
        fleet.bootstrap,
        [results_topic(task)],
        LLMResult,
        until=lambda rs: set(ids) <= {r.request_id for r in rs},
        timeout_s=120,
    )
    # every call has ended, so every cost event the workers will publish is out
    await sim.journal.wait_until(lambda calls: all(c.ended_at for c in calls), timeout_s=30)
    all_calls = sim.journal.calls()
    may_be_lost = sum(in_flight_at(c, killed_at) for c in all_calls)
    events = [
        e
        for e in await read_topic(
            fleet.bootstrap,
            [COSTS_TOPIC],
            CostEvent,
            until=lambda es: sum(e.task == task for e in es) >= len(all_calls) - may_be_lost,
            timeout_s=60,
        )
        if e.task == task
    ]

    # One result per request, answered; its attempts are exactly its cost events other
    # than the unbound ones (published once: by its owner, or the next as a redelivery).
    assert Counter(r.request_id for r in results if not r.duplicate) == Counter(list(ids))
    failed = [(r.request_id, r.error) for r in results if r.status is not ResultStatus.OK]
    assert failed == [], fleet.tails()
    answered = [e for e in events if not e.unbound]
    assert Counter((e.request_id, e.attempt) for e in answered) == Counter(
        (r.request_id, i) for r in results if not r.duplicate for i in range(len(r.attempts))
    )

    # The provider's side, request by request.
    hashes = {request_id: prompt_of[i] for request_id, i in ids.items()}
    calls_of: dict[str, list[CallRecord]] = defaultdict(list)
    for call in sim.journal.calls():
        calls_of[call.prompt_hash].append(call)
    assert sum(map(len, calls_of.values())) == len(sim.journal.calls())
    assert set(calls_of) == set(hashes.values())  # no call for anything else
    events_of: dict[str, list[CostEvent]] = defaultdict(list)
    for event in events:
        events_of[event.request_id].append(event)

    lost = unseen = 0
    for request_id, prompt in hashes.items():
        calls, billed = calls_of[prompt], events_of[request_id]
        answers = [c for c in calls if c.outcome == "ok"]
        # no answer is billed that the provider did not give
        answers_billed = [e for e in billed if e.outcome is AttemptOutcome.OK]
        assert len(answers_billed) <= len(answers), (request_id, calls, billed)
        # every call cut off is billed as abandoned, by the process that made it, unless
        # the SIGKILL cut it off; a call cut off just before it reached the provider is
        # billed as abandoned too (the worker cannot tell), so not seen by the provider
        missing = len(calls) - len(billed)
        assert missing <= 1, (request_id, calls, billed)  # at most one call lost
        if missing > 0:
            assert any(in_flight_at(c, killed_at) for c in calls), (request_id, calls, killed_at)
            lost += 1
        elif missing < 0:  # only abandoned calls are billed beyond what the provider saw
            abandoned = [e for e in billed if e.outcome is AttemptOutcome.ABANDONED]
            assert len(abandoned) >= -missing, (request_id, calls, billed)
            unseen -= missing
    assert len(all_calls) == len(events) + lost - unseen
    # The SIGKILL cut calls off (C owned a partition with slow requests in flight): those
    # are the only calls without a cost event, and there are no more than were in flight.
    assert 1 <= lost <= may_be_lost
    # Billed calls the provider never saw are rare: cut off between sending and arriving.
    assert unseen <= max(2, len(events) // 20), unseen
    # B's leaving (and the rebalances) cut calls off past their grace: billed, abandoned.
    abandoned_events = [e for e in events if e.outcome is AttemptOutcome.ABANDONED]
    assert abandoned_events
    assert all(e.unbound for e in abandoned_events)
    assert all(e.output_tokens == 0 for e in abandoned_events)
    assert all(e.input_tokens > 0 for e in abandoned_events)
    assert all(e.cost_usd > 0 for e in abandoned_events)

"""Every provider call on `llm.costs`, once (workers/accounting.py), on records in hand:
the handlers against a simulator of the test's own, whose call journal is the provider's
side of the account. The classifier stage publishes its own calls' cost events, so they
are there whatever the router stage does next; a call cut off in flight is published as
`abandoned` by the worker that made it, and the next owner's call as its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from aiokafka import ConsumerRecord

from llmrouter.core.errors import MessageTooLarge
from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.calls import CallLedger
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.router.routed import Routed
from llmrouter.router.state.dedupe import MemoryDedupe, SeenResult
from llmrouter.router.state.kept import keeping
from llmrouter.router.state.store import StateStore
from llmrouter.router.state.wiring import open_state
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    AttemptOutcome,
    ClassifiedRequest,
    CostEvent,
    LLMRequest,
    LLMResult,
    ResultStatus,
    classified_topic,
    decode,
    encode,
    requests_topic,
    results_topic,
    token_cost_usd,
    utc_now,
)
from llmrouter.simulator import SimConfig, create_app, engine_of, running
from llmrouter.simulator.journal import CallJournal
from llmrouter.workers.accounting import CLASSIFIER_COSTS_HEADER
from llmrouter.workers.handlers import ClassifierHandler, RouterHandler
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import ErrorPolicy, WorkerIdentity
from tests.factories import CATALOG, catalog, routing_config, static_route

#: the classifier stage asks `cheap`; the answer comes from `cheap` or `mid`
CLASSIFIED = routing_config(
    models=catalog("cheap", "mid"),
    defaults={"cache": {"enabled": False}, "retry": {"server_error": 0}},
    classifiers={
        "ask": {
            "kind": "llm",
            "model": "cheap",
            "max_output_tokens": 10,
            "prompt": "Classify as SIMPLE, MEDIUM or COMPLEX: {question}",
        }
    },
    tasks={
        "qa": {
            "route": {
                "strategy": "complexity",
                "classifier": "ask",
                "levels": {"SIMPLE": "cheap", "MEDIUM": "mid", "COMPLEX": "mid"},
            }
        }
    },
)
STATIC = routing_config(
    models=catalog("mid"),
    defaults={"cache": {"enabled": False}, "retry": {"server_error": 0}},
    tasks={"qa": static_route("mid")},
)
SLOW = " [[sim:latency_ms=60000]]"  # still in flight when its record is cut off
IDENTITY = WorkerIdentity("router", "group-a", "instance-1")


@dataclass
class Sim:
    url: str
    journal: CallJournal


@dataclass
class Unbound:
    """What a handler hands its worker to publish bound to no record."""

    outputs: list[Output] = field(default_factory=list)

    def __call__(self, outputs: Sequence[Output]) -> None:
        self.outputs.extend(outputs)

    def events(self) -> list[CostEvent]:
        assert {o.topic for o in self.outputs} <= {COSTS_TOPIC}
        return [decode(o.value, CostEvent) for o in self.outputs]


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    app = create_app(SimConfig(latency_ms=20, seed=5))
    async with running(app=app) as url:
        yield Sim(url, engine_of(app).journal)


@pytest.fixture
async def routers(sim: Sim) -> AsyncIterator[list[RoutingEngine]]:
    made: list[RoutingEngine] = []
    yield made
    for router in made:
        await router.aclose()


def make_router(sim: Sim, made: list[RoutingEngine], config_text: str) -> RoutingEngine:
    config = parse_config(config_text)
    router = RoutingEngine(config, pool=ProviderPool(config.models, simulator_url=sim.url))
    made.append(router)
    return router


def record(
    value: bytes,
    topic: str,
    offset: int = 0,
    headers: Sequence[tuple[str, bytes]] = (),
    key: bytes = b"r-1",
) -> ConsumerRecord[bytes, bytes]:
    now_ms = int(time.time() * 1000)
    return ConsumerRecord(
        topic, 0, offset, now_ms, 0, key, value, None, len(key), len(value), list(headers)
    )


def request(text: str = "What is the capital of France?", request_id: str = "r-1") -> LLMRequest:
    return LLMRequest(request_id=request_id, task="qa", input=text)


def costs(outputs: Sequence[Output]) -> list[CostEvent]:
    return [decode(o.value, CostEvent) for o in outputs if o.topic == COSTS_TOPIC]


def only(outputs: Sequence[Output], topic: str) -> Output:
    (found,) = [o for o in outputs if o.topic == topic]
    return found


async def classify(
    handler: ClassifierHandler, req: LLMRequest, offset: int = 0
) -> tuple[ConsumerRecord[bytes, bytes], list[CostEvent]]:
    """The classifier stage on `req`: the classified record as the router stage reads it,
    and the cost events the classifier stage published."""
    outputs = await handler(record(encode(req), requests_topic("qa"), offset))
    out = only(outputs, classified_topic("qa"))
    return record(out.value, out.topic, offset, out.headers), costs(outputs)


def assert_every_call_billed_once(journal: CallJournal, events: Sequence[CostEvent]) -> None:
    """One cost event per call the provider saw, per model."""
    seen = sorted(c.model for c in journal.calls())
    assert sorted(e.model_version for e in events) == seen


async def test_the_classifier_stage_publishes_its_calls_and_the_router_stage_not_again(
    sim: Sim, routers: list[RoutingEngine]
) -> None:
    router = make_router(sim, routers, CLASSIFIED)
    rec, classifier_events = await classify(
        ClassifierHandler(router, max_message_bytes=100_000), request()
    )
    assert (CLASSIFIER_COSTS_HEADER, b"published") in rec.headers
    (classify_event,) = classifier_events
    assert (classify_event.attempt, classify_event.purpose) == (0, "classify")
    assert classify_event.model_version == CATALOG["cheap"]["model_id"]
    assert classify_event.input_tokens > 0
    assert classify_event.cost_usd > 0

    outputs = await RouterHandler(router, max_message_bytes=100_000)(rec)
    result = decode(only(outputs, results_topic("qa")).value, LLMResult)
    assert result.status is ResultStatus.OK
    # the result tells the whole story, its cost included; the router bills its own call
    assert [a.purpose for a in result.attempts] == ["classify", "answer"]
    assert result.cost_usd == sum(a.cost_usd for a in result.attempts)
    (answer_event,) = costs(outputs)
    assert (answer_event.attempt, answer_event.purpose) == (1, "answer")
    assert_every_call_billed_once(sim.journal, [classify_event, answer_event])


async def test_a_redelivered_classified_record_does_not_bill_the_classifier_again(
    sim: Sim, routers: list[RoutingEngine]
) -> None:
    router = make_router(sim, routers, CLASSIFIED)
    rec, classifier_events = await classify(
        ClassifierHandler(router, max_message_bytes=100_000), request()
    )
    handler = RouterHandler(router, max_message_bytes=100_000)
    first = costs(await handler(rec))
    # the transaction that published it never committed: the kept answer, as the original
    again = costs(await handler(rec))
    assert [e.attempt for e in first] == [e.attempt for e in again] == [1]
    assert_every_call_billed_once(sim.journal, classifier_events + first)


def _expire(rec: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    """`rec` with its request's deadline passed while it waited for the router stage."""
    classified = decode(rec.value, ClassifiedRequest)
    late = classified.model_copy(update={"deadline": utc_now() - timedelta(seconds=1)})
    return record(encode(late), rec.topic, rec.offset, rec.headers)


@pytest.mark.parametrize("path", ["expired", "duplicate", "dead_lettered"])
async def test_classifier_calls_are_billed_whatever_the_router_stage_does(
    sim: Sim, routers: list[RoutingEngine], path: str
) -> None:
    router = make_router(sim, routers, CLASSIFIED)
    classifier = ClassifierHandler(router, max_message_bytes=100_000)
    handler = RouterHandler(router, max_message_bytes=100_000, identity=IDENTITY)
    events: list[CostEvent] = []
    if path == "duplicate":  # the request id was answered already, from another record
        first, first_classified = await classify(classifier, request(), offset=0)
        events += first_classified + costs(await handler(first))
    rec, classifier_events = await classify(classifier, request(), offset=1)
    assert len(classifier_events) == 1
    events += classifier_events
    if path == "expired":
        outputs = await handler(_expire(rec))
        result = decode(only(outputs, results_topic("qa")).value, LLMResult)
        assert (result.error or "").startswith("expired")
    elif path == "duplicate":
        outputs = await handler(rec)
        assert decode(only(outputs, results_topic("qa")).value, LLMResult).duplicate
    else:  # a record the router stage cannot take: the error policy's outputs
        small = RouterHandler(router, max_message_bytes=10, identity=IDENTITY)
        with pytest.raises(MessageTooLarge) as raised:
            await small(rec)
        outputs = ErrorPolicy(IDENTITY)(rec, raised.value)
        assert only(outputs, DLQ_TOPIC)
    assert costs(outputs) == []  # the router stage bills none of the classifier's calls
    events += costs(outputs)
    assert_every_call_billed_once(sim.journal, events)


async def _cut_off(sim: Sim, call: asyncio.Task[list[Output]], calls_before: int) -> None:
    """Cancel `call` (a handler) once its provider call is in flight, as the runtime
    cuts off a record handed over past the grace, and wait for the provider to see it go."""
    await sim.journal.wait_until(
        lambda calls: len(calls) > calls_before and calls[-1].ended_at is None, timeout_s=30
    )
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await sim.journal.wait_until(lambda calls: calls[-1].outcome == "cancelled", timeout_s=30)


async def test_a_call_cut_off_is_billed_as_abandoned_and_the_next_owner_bills_its_own(
    sim: Sim, routers: list[RoutingEngine]
) -> None:
    router = make_router(sim, routers, STATIC)
    unbound = Unbound()
    handler = RouterHandler(router, max_message_bytes=100_000)
    handler.publish_unbound = unbound
    slow = ClassifiedRequest(request_id="r-1", task="qa", input="a long answer" + SLOW)
    rec = record(encode(slow), classified_topic("qa"), offset=4)
    cut_before = METRICS.calls_cut_off.labels("router", "mid")._value.get()

    await _cut_off(sim, asyncio.create_task(handler(rec)), calls_before=0)

    (abandoned,) = unbound.events()
    spec = router.config.models["mid"]
    assert abandoned.outcome is AttemptOutcome.ABANDONED
    assert (abandoned.request_id, abandoned.attempt, abandoned.purpose) == ("r-1", 0, "answer")
    assert abandoned.unbound  # no result carries it
    # the provider reported nothing: the prompt's estimated input tokens, no output tokens
    assert abandoned.input_tokens > 0
    assert abandoned.output_tokens == 0
    assert abandoned.cost_usd == token_cost_usd(
        abandoned.input_tokens, 0, spec.input_usd_per_1k, spec.output_usd_per_1k
    )
    assert abandoned.cost_usd > 0
    assert METRICS.calls_cut_off.labels("router", "mid")._value.get() == cut_before + 1

    # The next owner of the record: the claim was given up, so it calls again at once and
    # bills that call with its result; the cut-off call is not on it.
    quick = slow.model_copy(update={"input": "a long answer"})
    outputs = await RouterHandler(router, max_message_bytes=100_000)(
        record(encode(quick), classified_topic("qa"), offset=4)
    )
    result = decode(only(outputs, results_topic("qa")).value, LLMResult)
    assert result.status is ResultStatus.OK
    assert len(result.attempts) == 1
    (answered,) = costs(outputs)
    assert answered.outcome is AttemptOutcome.OK
    # the same request id and attempt number, another call: told apart by `unbound`
    assert (answered.request_id, answered.attempt, answered.unbound) == ("r-1", 0, False)
    assert [c.outcome for c in sim.journal.calls()] == ["cancelled", "ok"]
    assert_every_call_billed_once(sim.journal, [abandoned, answered])


async def test_a_classifier_call_cut_off_is_billed_as_abandoned(
    sim: Sim, routers: list[RoutingEngine]
) -> None:
    router = make_router(sim, routers, CLASSIFIED)
    unbound = Unbound()
    handler = ClassifierHandler(router, max_message_bytes=100_000)
    handler.publish_unbound = unbound
    rec = record(encode(request("which plan" + SLOW)), requests_topic("qa"))
    await _cut_off(sim, asyncio.create_task(handler(rec)), calls_before=0)
    (abandoned,) = unbound.events()
    assert (abandoned.outcome, abandoned.purpose) == (AttemptOutcome.ABANDONED, "classify")
    assert abandoned.model_version == CATALOG["cheap"]["model_id"]
    assert_every_call_billed_once(sim.journal, [abandoned])


async def test_calls_of_a_route_that_raised_are_billed_by_the_worker_that_made_them(
    sim: Sim, routers: list[RoutingEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    router = make_router(sim, routers, STATIC)
    unbound = Unbound()
    handler = RouterHandler(router, max_message_bytes=100_000)
    handler.publish_unbound = unbound

    def broken(*_args: object) -> LLMResult:
        raise RuntimeError("a bug after the call")

    monkeypatch.setattr(router, "_result", broken)
    rec = record(encode(ClassifiedRequest(request_id="r-1", task="qa", input="hi")), "t")
    with pytest.raises(RuntimeError):
        await handler(rec)
    (event,) = unbound.events()  # the error policy's failed result carries no attempt
    assert event.outcome is AttemptOutcome.OK
    assert event.output_tokens > 0
    assert_every_call_billed_once(sim.journal, [event])


class SlowClaim:
    """A claim whose store takes until `stored` is set (a slow state store)."""

    def __init__(self) -> None:
        self.storing = asyncio.Event()
        self.stored = asyncio.Event()
        self.result: bytes | None = None

    async def store(self, result: bytes) -> None:
        self.storing.set()
        await self.stored.wait()
        self.result = result

    async def release(self) -> None:
        raise AssertionError("a stored result is never released")


class SlowDedupe:
    def __init__(self) -> None:
        self.claim_ = SlowClaim()

    async def claim(self, request_id: str, origin: str, **_: object) -> SlowClaim | SeenResult:
        return self.claim_

    async def aclose(self) -> None:
        return None


async def test_a_store_begun_before_the_cut_off_finishes_and_marks_the_calls_kept() -> None:
    ledger = CallLedger(request(), max_calls=4)
    slow = SlowDedupe()
    claim = await keeping(slow, ledger).claim("r-1", "t:0:0", wait_s=1.0)
    assert not isinstance(claim, SeenResult)
    storing = asyncio.create_task(claim.store(b"answer"))
    await slow.claim_.storing.wait()
    storing.cancel()  # cut off while the store is under way
    assert not ledger.kept
    slow.claim_.stored.set()
    with pytest.raises(asyncio.CancelledError):
        await storing
    # stored: the next owner publishes it with its cost events, so this worker does not
    assert slow.claim_.result == b"answer"
    assert ledger.kept


async def test_a_route_whose_answer_was_kept_leaves_nothing_to_publish_unbound(
    sim: Sim, routers: list[RoutingEngine]
) -> None:
    router = make_router(sim, routers, STATIC)
    assert isinstance(router.state.dedupe, MemoryDedupe)  # the per-process one keeps too
    answered = ClassifiedRequest(request_id="r-1", task="qa", input="hi")
    ledger = router.ledger(answered)
    routed = await router.route_once(answered, "t:0:0", ledger=ledger)
    assert isinstance(routed, Routed)
    assert routed.result.status is ResultStatus.OK
    assert ledger.kept
    failing = ClassifiedRequest(request_id="r-2", task="qa", input="no [[sim:fault=500]]")
    ledger = router.ledger(failing)
    routed = await router.route_once(failing, "t:0:1", ledger=ledger)
    assert isinstance(routed, Routed)
    assert routed.result.status is ResultStatus.FAILED
    assert not ledger.kept  # a failed result is not kept: its worker bills its calls


async def test_an_answer_kept_at_a_handover_is_published_by_the_next_owner_without_a_call(
    sim: Sim, redis_url: str
) -> None:
    """The record's partition moves while its call is in flight; the call finishes and its
    answer is kept, but the old owner's commit never comes. The next owner, given the
    same record, waits on the claim and publishes the kept answer as a redelivery, with
    its cost event: one call, one cost event."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    config = parse_config(STATIC)
    old, new = (
        RoutingEngine(
            config,
            pool=ProviderPool(config.models, simulator_url=sim.url),
            state=open_state(config, store=StateStore.connect(redis_url, prefix=prefix)),
        )
        for _ in range(2)
    )
    try:
        asked = ClassifiedRequest(request_id="r-1", task="qa", input="hi [[sim:latency_ms=1500]]")
        rec = record(encode(asked), classified_topic("qa"), offset=7)
        old_owner = asyncio.create_task(RouterHandler(old, max_message_bytes=100_000)(rec))
        await sim.journal.wait_until(lambda calls: len(calls) == 1, timeout_s=30)
        next_owner = asyncio.create_task(RouterHandler(new, max_message_bytes=100_000)(rec))
        dropped = await old_owner  # its commit never happens: these are never published
        outputs = await next_owner
    finally:
        await old.aclose()
        await new.aclose()
    kept = decode(only(dropped, results_topic("qa")).value, LLMResult)
    assert decode(only(outputs, results_topic("qa")).value, LLMResult) == kept
    (event,) = costs(outputs)
    assert (event.outcome, event.attempt) == (AttemptOutcome.OK, 0)
    assert [c.outcome for c in sim.journal.calls()] == ["ok"]  # no second call


async def test_a_record_from_an_older_classifier_stage_has_its_calls_billed_by_the_router(
    sim: Sim, routers: list[RoutingEngine]
) -> None:
    """Without the mark, the classifier stage published none of its calls' cost events
    (as before this rule): the router stage publishes them with the result."""
    router = make_router(sim, routers, CLASSIFIED)
    rec, _ = await classify(ClassifierHandler(router, max_message_bytes=100_000), request())
    unmarked = record(
        rec.value,
        rec.topic,
        rec.offset,
        [h for h in rec.headers if h[0] != CLASSIFIER_COSTS_HEADER],
    )
    events = costs(await RouterHandler(router, max_message_bytes=100_000)(unmarked))
    assert [(e.attempt, e.purpose) for e in events] == [(0, "classify"), (1, "answer")]

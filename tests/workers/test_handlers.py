"""The handlers on records in hand (no broker, the simulator as provider): what each record
publishes is the handler's return value — a failed request's result, cost events and dead
letter included — and a request is validated once per stage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from llmrouter.core.errors import InvalidMessage
from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.config import TaskSpec
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    ClassifiedRequest,
    CostEvent,
    DeadLetter,
    LLMRequest,
    LLMResult,
    ResultStatus,
    classified_topic,
    decode,
    encode,
    requests_topic,
    results_topic,
)
from llmrouter.workers.handlers import ClassifierHandler, RouterHandler
from llmrouter.workers.outputs import WorkerIdentity

CONFIG = """\
version: 1
defaults:
  max_calls_per_request: 4
  retry: {{server_error: 1, base_delay_s: 0.01, max_delay_s: 0.02}}
  cache: {{enabled: false}}
  duplicates: {duplicates}
models:
  cheap:
    provider: anthropic
    model_id: claude-3-haiku-20240307
    input_usd_per_1k: 0.00025
    output_usd_per_1k: 0.00125
  mid:
    provider: openai
    model_id: gpt-3.5-turbo-0125
    input_usd_per_1k: 0.0005
    output_usd_per_1k: 0.0015
classifiers:
  rules:
    kind: rules
    rules: [{{name: long, weight: 1.0, min_chars: 120}}]
tasks:
  qa:
    route:
      strategy: complexity
      classifier: rules
      levels: {{SIMPLE: cheap, MEDIUM: mid, COMPLEX: mid}}
      fallback: [mid]
"""

IDENTITY = WorkerIdentity("router", "group-a", "instance-1")
MakeRouter = Callable[..., RoutingEngine]


@pytest.fixture
async def make_router(sim_url: str) -> AsyncIterator[MakeRouter]:
    routers: list[RoutingEngine] = []

    def make(duplicates: str = "republish") -> RoutingEngine:
        cfg = parse_config(CONFIG.format(duplicates=duplicates))
        router = RoutingEngine(cfg, pool=ProviderPool(cfg.models, simulator_url=sim_url))
        routers.append(router)
        return router

    yield make
    for router in routers:
        await router.aclose()


def record(message: LLMRequest, topic: str, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    value = encode(message)
    key = message.request_id.encode()
    now_ms = int(time.time() * 1000)  # the request's age is measured from it
    return ConsumerRecord(topic, 0, offset, now_ms, 0, key, value, None, len(key), len(value), [])


def classified(text: str, request_id: str = "r-1") -> ClassifiedRequest:
    return ClassifiedRequest(request_id=request_id, task="qa", input=text)


def by_topic(outputs: list[Output]) -> dict[str, list[Output]]:
    topics: dict[str, list[Output]] = {}
    for output in outputs:
        topics.setdefault(output.topic, []).append(output)
    return topics


class ValidateSpy:
    def __init__(self, router: RoutingEngine, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = router.validate
        monkeypatch.setattr(router, "validate", self)

    def __call__(self, request: LLMRequest) -> TaskSpec:
        self.calls += 1
        return self._real(request)


async def test_a_request_no_model_answers_returns_its_result_costs_and_dead_letter(
    make_router: MakeRouter,
) -> None:
    router = make_router()
    handler = RouterHandler(router, max_message_bytes=100_000, identity=IDENTITY)
    rec = record(classified("doomed [[sim:fault=500]]"), classified_topic("qa"), offset=3)
    outputs = by_topic(await handler(rec))  # returned, not raised
    assert set(outputs) == {results_topic("qa"), COSTS_TOPIC, DLQ_TOPIC}
    (result_out,) = outputs[results_topic("qa")]
    result = decode(result_out.value, LLMResult)
    assert result.status is ResultStatus.FAILED
    costs = [decode(o.value, CostEvent) for o in outputs[COSTS_TOPIC]]
    assert [c.attempt for c in costs] == list(range(len(result.attempts)))
    assert len(costs) == 4  # cheap twice, mid twice: one cost event per attempt
    (letter_out,) = outputs[DLQ_TOPIC]
    letter = decode(letter_out.value, DeadLetter)
    assert (letter.error_type, letter.stage, letter.request_id) == (
        "AllModelsFailed",
        "router",
        "r-1",
    )
    assert (letter.worker, letter.group_id, letter.instance_id) == (
        "router",
        "group-a",
        "instance-1",
    )
    assert (letter.source_topic, letter.offset) == (classified_topic("qa"), 3)
    assert "4 sub-exceptions" in letter.error  # every error kept


async def test_a_failure_frees_the_request_id_for_the_next_record(make_router: MakeRouter) -> None:
    router = make_router()
    handler = RouterHandler(router, max_message_bytes=100_000)
    await handler(record(classified("flaky [[sim:fault=500*2]]"), classified_topic("qa")))
    # the same request again (another input under the id would be a duplicate_conflict)
    retry = classified("flaky [[sim:fault=500*2]]")
    again = by_topic(await handler(record(retry, classified_topic("qa"), offset=1)))
    assert decode(again[results_topic("qa")][0].value, LLMResult).status is ResultStatus.OK
    assert DLQ_TOPIC not in again


@pytest.mark.parametrize("duplicates", ["republish", "drop"])
async def test_a_duplicate_publishes_the_earlier_answer_without_a_call(
    make_router: MakeRouter, duplicates: str
) -> None:
    router = make_router(duplicates)
    handler = RouterHandler(router, max_message_bytes=100_000)
    first = by_topic(await handler(record(classified("hello"), classified_topic("qa"))))
    answer = decode(first[results_topic("qa")][0].value, LLMResult)
    assert answer.status is ResultStatus.OK
    assert len(first[COSTS_TOPIC]) == 1
    # the same record again: its first transaction never committed, so all of it again
    redelivered = by_topic(await handler(record(classified("hello"), classified_topic("qa"))))
    assert decode(redelivered[results_topic("qa")][0].value, LLMResult) == answer
    assert len(redelivered[COSTS_TOPIC]) == 1
    # another record of the same request id: a duplicate
    duplicate = await handler(record(classified("hello"), classified_topic("qa"), offset=9))
    if duplicates == "drop":
        assert duplicate == []
    else:
        (copy,) = duplicate
        assert copy.topic == results_topic("qa")
        assert decode(copy.value, LLMResult) == answer.model_copy(update={"duplicate": True})


@pytest.mark.parametrize("stage", ["classifier", "router"])
async def test_each_stage_validates_a_request_once(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    router = make_router()
    spy = ValidateSpy(router, monkeypatch)
    handler: Any
    if stage == "classifier":
        handler = ClassifierHandler(router, max_message_bytes=100_000)
        rec = record(LLMRequest(request_id="r-1", task="qa", input="hi"), requests_topic("qa"))
    else:
        handler = RouterHandler(router, max_message_bytes=100_000)
        rec = record(classified("hi"), classified_topic("qa"))
    assert await handler(rec)
    assert spy.calls == 1


async def test_a_request_read_straight_from_its_requests_topic_is_routed(
    make_router: MakeRouter,
) -> None:
    """The direct path (router/paths.py): the router reads the request itself, and should
    its route need a complexity (a reload gave the task a complexity route before a restart
    moved it to the classifier's path), the router classifies it and bills that too."""
    router = make_router()
    handler = RouterHandler(router, max_message_bytes=100_000)
    long_text = "Please look at my account: " + "details " * 30
    request = LLMRequest(request_id="r-direct", task="qa", input=long_text)
    outputs = by_topic(await handler(record(request, requests_topic("qa"))))
    (result_out,) = outputs[results_topic("qa")]
    result = decode(result_out.value, LLMResult)
    assert result.status is ResultStatus.OK
    assert result.complexity is not None  # classified here, by the rules
    assert result.model == "mid"  # not SIMPLE: the long-input rule fired
    costs = [decode(o.value, CostEvent) for o in outputs[COSTS_TOPIC]]
    assert len(costs) == len(result.attempts) == 1
    # a record that is not a request is refused on this path as on the classifier's
    value = b'{"task": "qa"}'
    bad = ConsumerRecord(requests_topic("qa"), 0, 1, 0, 0, None, value, None, 0, len(value), [])
    with pytest.raises(InvalidMessage):
        await handler(bad)

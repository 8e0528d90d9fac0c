"""Idempotency per task and input, through the router's handler, the real SDKs and the
simulator's call journal, with the dedupe in this process and in a real redis-server:

- the same request id on two tasks is two requests, each answered on its own topic;
- the same id with another input is a `duplicate_conflict`: no call, no earlier answer;
- the same id with the same input is a duplicate, as before;
- an answer over `dedupe_max_result_bytes` is kept as a marker: a duplicate hears it was
  answered, with no call and no answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.router.state import StateStore
from llmrouter.router.state.dedupe import Claim, SeenResult
from llmrouter.router.state.wiring import open_state
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    ClassifiedRequest,
    DeadLetter,
    LLMResult,
    ResultStatus,
    classified_topic,
    decode,
    encode,
    results_topic,
)
from llmrouter.workers.handlers import RouterHandler

CONFIG = """\
version: 1
defaults:
  cache: {{enabled: false}}
  dedupe_max_result_bytes: {max_bytes}
models:
  cheap:
    provider: anthropic
    model_id: claude-3-haiku-20240307
    input_usd_per_1k: 0.00025
    output_usd_per_1k: 0.00125
tasks:
  qa:
    route: {{strategy: static, model: cheap}}
  qb:
    route: {{strategy: static, model: cheap}}
"""

MakeHandler = Callable[..., RouterHandler]


@pytest.fixture(params=["memory", "redis"])
def state_url(request: pytest.FixtureRequest) -> str | None:
    """None: the dedupe of this process; else the session's redis-server."""
    return None if request.param == "memory" else str(request.getfixturevalue("redis_url"))


@pytest.fixture
async def make_handler(state_url: str | None, sim_url: str) -> AsyncIterator[MakeHandler]:
    routers: list[RoutingEngine] = []

    def make(max_bytes: int = 65_536) -> RouterHandler:
        cfg = parse_config(CONFIG.format(max_bytes=max_bytes))
        state = None
        if state_url is not None:
            store = StateStore.connect(state_url, prefix=f"test-{uuid.uuid4().hex[:12]}")
            state = open_state(cfg, store=store)
        router = RoutingEngine(
            cfg, pool=ProviderPool(cfg.models, simulator_url=sim_url), state=state
        )
        routers.append(router)
        return RouterHandler(router, max_message_bytes=100_000)

    yield make
    for router in routers:
        await router.aclose()


def record(message: ClassifiedRequest, offset: int) -> ConsumerRecord[bytes, bytes]:
    value, key = encode(message), message.request_id.encode()
    topic = classified_topic(message.task)
    now_ms = int(time.time() * 1000)
    return ConsumerRecord(topic, 0, offset, now_ms, 0, key, value, None, len(key), len(value), [])


def request(task: str, text: str, request_id: str, **extra: Any) -> ClassifiedRequest:
    return ClassifiedRequest(request_id=request_id, task=task, input=text, **extra)


def on(outputs: list[Output], topic: str) -> list[Output]:
    return [o for o in outputs if o.topic == topic]


async def provider_calls(sim_url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/calls") as resp:
        journal: dict[str, Any] = await resp.json()
    return int(journal["total"])


async def test_the_same_id_on_two_tasks_is_answered_on_each(
    make_handler: MakeHandler, sim_url: str
) -> None:
    handler = make_handler()
    rid = f"shared-{uuid.uuid4().hex}"
    before = await provider_calls(sim_url)
    first = await handler(record(request("qa", "what is kafka?", rid), offset=1))
    second = await handler(record(request("qb", "what is kafka?", rid), offset=1))
    assert await provider_calls(sim_url) == before + 2  # each task made its own call
    for outputs, task in ((first, "qa"), (second, "qb")):
        (out,) = on(outputs, results_topic(task))
        result = decode(out.value, LLMResult)
        assert (result.status, result.task, result.duplicate) == (ResultStatus.OK, task, False)
        assert len(on(outputs, COSTS_TOPIC)) == 1


async def test_the_same_id_with_another_input_is_a_conflict_with_no_call(
    make_handler: MakeHandler, sim_url: str
) -> None:
    handler = make_handler()
    rid = f"reused-{uuid.uuid4().hex}"
    first = await handler(record(request("qa", "client A's secret question", rid), offset=1))
    answer = decode(on(first, results_topic("qa"))[0].value, LLMResult)
    assert answer.status is ResultStatus.OK
    before = await provider_calls(sim_url)
    for offset, other in enumerate(
        [
            request("qa", "client B's question", rid),
            request("qa", "client A's secret question", rid, context={"kb": "other"}),
        ],
        start=2,
    ):
        outputs = await handler(record(other, offset=offset))
        (out,) = on(outputs, results_topic("qa"))
        result = decode(out.value, LLMResult)
        assert result.status is ResultStatus.FAILED
        assert (result.error or "").startswith("duplicate_conflict")
        assert result.output is None
        assert (answer.output or "") not in (result.error or "")
        assert on(outputs, COSTS_TOPIC) == []
        (letter,) = on(outputs, DLQ_TOPIC)  # the request itself is kept
        assert decode(letter.value, DeadLetter).error_type == "DuplicateConflict"
    assert await provider_calls(sim_url) == before  # no provider call
    # the same input again is a plain duplicate: the stored answer, marked
    again = await handler(record(request("qa", "client A's secret question", rid), offset=9))
    (out,) = on(again, results_topic("qa"))
    assert decode(out.value, LLMResult) == answer.model_copy(update={"duplicate": True})
    assert await provider_calls(sim_url) == before


async def test_a_conflict_is_told_while_the_first_is_still_working(
    make_handler: MakeHandler,
) -> None:
    handler = make_handler()
    dedupe = handler.router.state.dedupe
    routing = asyncio.Event()  # set once the first record holds the id (and routes)
    real_claim = dedupe.claim

    async def claim(*args: Any, **kwargs: Any) -> Claim | SeenResult:
        got = await real_claim(*args, **kwargs)
        if not isinstance(got, SeenResult):
            routing.set()
        return got

    dedupe.claim = claim  # type: ignore[method-assign]
    rid = f"busy-{uuid.uuid4().hex}"
    slow = request("qa", "slow one [[sim:latency_ms=3000]]", rid)
    first = asyncio.create_task(handler(record(slow, offset=1)))
    await asyncio.wait_for(routing.wait(), timeout=30)
    try:
        # a duplicate of the same input would wait for the owner's answer; a conflict
        # is told at once, while the owner still waits on its slow call
        outputs = await handler(record(request("qa", "another", rid), offset=2))
        result = decode(on(outputs, results_topic("qa"))[0].value, LLMResult)
        assert (result.error or "").startswith("duplicate_conflict")
        assert not first.done()
    finally:
        done = await first
    assert decode(on(done, results_topic("qa"))[0].value, LLMResult).status is ResultStatus.OK


async def test_an_answer_over_the_byte_bound_is_kept_as_a_marker(
    make_handler: MakeHandler, sim_url: str
) -> None:
    handler = make_handler(max_bytes=10)
    rid = f"big-{uuid.uuid4().hex}"
    first = await handler(record(request("qa", "hello", rid), offset=1))
    assert decode(on(first, results_topic("qa"))[0].value, LLMResult).status is ResultStatus.OK
    before = await provider_calls(sim_url)
    duplicate = await handler(record(request("qa", "hello", rid), offset=2))
    (out,) = on(duplicate, results_topic("qa"))
    told = decode(out.value, LLMResult)
    assert (told.status, told.duplicate, told.output) == (ResultStatus.FAILED, True, None)
    assert "answered before" in (told.error or "")
    assert await provider_calls(sim_url) == before
    # the very record again (its transaction never committed): it is routed again
    redelivered = await handler(record(request("qa", "hello", rid), offset=1))
    again = decode(on(redelivered, results_topic("qa"))[0].value, LLMResult)
    assert (again.status, again.duplicate) == (ResultStatus.OK, False)
    assert await provider_calls(sim_url) == before + 1

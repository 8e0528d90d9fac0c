"""Deadlines at call time: a request that passes its deadline while it waits — for its
model's only concurrency slot, held by a slow call, or in a retry's backoff — is not sent.
It ends `failed` with reason `expired`, as at dequeue: no dead letter, its calls already
made still billed. Through the router's handler, the real SDKs and the simulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiokafka import ConsumerRecord

from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    ClassifiedRequest,
    CostEvent,
    LLMResult,
    ResultStatus,
    classified_topic,
    decode,
    encode,
    results_topic,
    utc_now,
)
from llmrouter.workers.handlers import RouterHandler
from llmrouter.workers.metrics import METRICS

CONFIG = """\
version: 1
defaults:
  cache: {enabled: false}
  retry: {rate_limited: 1}
models:
  cheap:
    provider: anthropic
    model_id: claude-3-haiku-20240307
    input_usd_per_1k: 0.00025
    output_usd_per_1k: 0.00125
    max_concurrency: 1
    queue_s: 60
tasks:
  qa:
    route: {strategy: static, model: cheap}
"""


@pytest.fixture
async def router(sim_url: str) -> AsyncIterator[RoutingEngine]:
    cfg = parse_config(CONFIG)
    engine = RoutingEngine(cfg, pool=ProviderPool(cfg.models, simulator_url=sim_url))
    yield engine
    await engine.aclose()


def record(message: ClassifiedRequest, offset: int) -> ConsumerRecord[bytes, bytes]:
    value, key = encode(message), message.request_id.encode()
    now_ms = int(time.time() * 1000)
    topic = classified_topic("qa")
    return ConsumerRecord(topic, 0, offset, now_ms, 0, key, value, None, len(key), len(value), [])


async def provider_calls(sim_url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/calls") as resp:
        journal: dict[str, Any] = await resp.json()
    return int(journal["total"])


class SlotWatch:
    """The model's limiter, watched: an event when a call holds the slot, and one when a
    second call asks for it (it passed the dequeue check and queues)."""

    def __init__(self, limiter: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held = asyncio.Event()
        self.second_asked = asyncio.Event()
        self._asks = 0
        self._slot = limiter.slot
        monkeypatch.setattr(limiter, "slot", self.slot)

    @asynccontextmanager
    async def slot(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        self._asks += 1
        if self._asks == 2:
            self.second_asked.set()
        async with self._slot(*args, **kwargs) as lease:
            self.held.set()
            yield lease


def expired_count() -> float:
    return float(METRICS.expired.labels("qa", "call")._value.get())


async def test_a_request_whose_deadline_passes_while_queued_is_not_sent(
    router: RoutingEngine, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = RouterHandler(router, max_message_bytes=100_000)
    watch = SlotWatch(router.state.limiters["cheap"], monkeypatch)
    before = await provider_calls(sim_url)
    expired_before = expired_count()
    slow = ClassifiedRequest(request_id="slow", task="qa", input="hold [[sim:latency_ms=2500]]")
    first = asyncio.create_task(handler(record(slow, offset=1)))
    await asyncio.wait_for(watch.held.wait(), 30)  # the only slot is taken
    late = ClassifiedRequest(
        request_id="late",
        task="qa",
        input="wait for me",
        deadline=utc_now() + timedelta(seconds=1),
    )
    second: asyncio.Task[Any] = asyncio.create_task(handler(record(late, offset=2)))
    # it passed the dequeue check and queues behind the slow call
    await asyncio.wait_for(watch.second_asked.wait(), 30)
    outputs = await second
    await first
    (out,) = [o for o in outputs if o.topic == results_topic("qa")]
    result = decode(out.value, LLMResult)
    assert result.status is ResultStatus.FAILED
    assert (result.error or "").startswith("expired")
    assert result.attempts == []
    assert [o.topic for o in outputs] == [results_topic("qa")]  # no cost event, no DLQ
    assert await provider_calls(sim_url) == before + 1  # the slow one's call only
    assert expired_count() == expired_before + 1


async def test_a_deadline_passed_in_a_retrys_backoff_stops_the_retry(
    router: RoutingEngine, sim_url: str
) -> None:
    handler = RouterHandler(router, max_message_bytes=100_000)
    before = await provider_calls(sim_url)
    flaky = ClassifiedRequest(
        request_id="flaky",
        task="qa",
        input="busy [[sim:fault=429]] [[sim:retry_after=1.5]]",
        deadline=utc_now() + timedelta(seconds=1),
    )
    outputs = await handler(record(flaky, offset=3))
    topics = [o.topic for o in outputs]
    assert DLQ_TOPIC not in topics
    (out,) = [o for o in outputs if o.topic == results_topic("qa")]
    result = decode(out.value, LLMResult)
    assert result.status is ResultStatus.FAILED
    assert (result.error or "").startswith("expired")
    assert len(result.attempts) == 1  # the failed first call, made and billed
    (cost,) = [decode(o.value, CostEvent) for o in outputs if o.topic == COSTS_TOPIC]
    assert cost.request_id == "flaky"
    assert await provider_calls(sim_url) == before + 1  # the retry was not sent


async def test_a_replay_of_a_plain_request_is_not_expired_at_call_time(
    router: RoutingEngine,
) -> None:
    # a replay or an evaluation routes plain requests: their deadlines are history
    from llmrouter.schemas import LLMRequest

    old = LLMRequest(
        request_id="old", task="qa", input="hi", deadline=utc_now() - timedelta(days=1)
    )
    routed = await router.route(old)
    assert routed.result.status is ResultStatus.OK

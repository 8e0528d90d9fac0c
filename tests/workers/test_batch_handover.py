"""Which requests the router stage hands to a batch job: batch priority, a model with
`batch_api` first on its route, a deadline the job can meet, not given back already."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import ClassifiedRequest, Priority, classified_topic, decode, encode, utc_now
from llmrouter.schemas.batches import BatchEntry
from llmrouter.workers.batch.handover import FALLBACK_HEADER, BatchHandover

pytestmark = pytest.mark.asyncio

CONFIG = """
models:
  oa:
    provider: openai
    model_id: gpt-4o-mini
    batch_api: {expected_completion_s: 7200}
  plain: {provider: openai, model_id: gpt-4o}
tasks:
  qa:
    route: {strategy: static, model: oa}
  other:
    route: {strategy: static, model: plain}
"""


def _record(
    request: ClassifiedRequest, headers: list[tuple[str, bytes]] | None = None
) -> ConsumerRecord[bytes, bytes]:
    value = encode(request)
    key = request.request_id.encode()
    now_ms = int(time.time() * 1000)
    topic = classified_topic(request.task)
    return ConsumerRecord(
        topic, 0, 7, now_ms, 0, key, value, None, len(key), len(value), headers or []
    )


@pytest.fixture
async def router(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RoutingEngine]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    engine = RoutingEngine(parse_config(CONFIG))
    yield engine
    await engine.aclose()


async def _hand(
    router: RoutingEngine,
    request: ClassifiedRequest,
    headers: list[tuple[str, bytes]] | None = None,
) -> list[Output] | None:
    task = router.config.tasks[request.task]
    return await BatchHandover("llm.batches.t").hand_over(
        router, request, task, _record(request, headers)
    )


async def test_a_batch_request_becomes_an_entry(router: RoutingEngine) -> None:
    request = ClassifiedRequest(request_id="r1", task="qa", input="hello", priority=Priority.BATCH)
    outputs = await _hand(router, request)
    assert isinstance(outputs, list)
    [output] = outputs
    assert output.topic == "llm.batches.t"
    entry = decode(output.value, BatchEntry)
    assert entry.model == "oa"
    assert entry.body["model"] == "gpt-4o-mini"
    assert entry.body["messages"][-1]["content"] == "hello"
    assert entry.origin == f"{classified_topic('qa')}:0:7"
    assert output.key == f"e/{entry.origin}".encode()


@pytest.mark.parametrize(
    ("task", "priority", "deadline_s", "given_back"),
    [
        ("qa", Priority.REALTIME, None, False),  # not batch priority
        ("qa", None, None, False),
        ("other", Priority.BATCH, None, False),  # its model has no batch_api
        ("qa", Priority.BATCH, 3600, False),  # due before the job's expected 2 h
        ("qa", Priority.BATCH, None, True),  # a job gave it back: realtime now
    ],
)
async def test_routed_as_usual(
    router: RoutingEngine,
    task: str,
    priority: Priority | None,
    deadline_s: float | None,
    given_back: bool,
) -> None:
    deadline = utc_now() + timedelta(seconds=deadline_s) if deadline_s is not None else None
    request = ClassifiedRequest(
        request_id="r2", task=task, input="hello", priority=priority, deadline=deadline
    )
    headers = [(FALLBACK_HEADER, b"expired")] if given_back else None
    assert await _hand(router, request, headers=headers) is None


async def test_a_deadline_after_the_expected_completion_is_batched(router: RoutingEngine) -> None:
    request = ClassifiedRequest(
        request_id="r3",
        task="qa",
        input="hello",
        priority=Priority.BATCH,
        deadline=utc_now() + timedelta(hours=3),
    )
    assert await _hand(router, request) is not None

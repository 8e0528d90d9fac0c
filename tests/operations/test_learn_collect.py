"""`learn collect` on the real broker: requests joined with their answers and feedback by
request_id, exactly one outcome line per request × model answer, whatever repeats."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.operations.learn_join import join_outcomes
from llmrouter.operations.learn_traffic import TrafficWindow, read_traffic
from llmrouter.producers import RequestProducer
from llmrouter.schemas import (
    FEEDBACK_TOPIC,
    Attempt,
    AttemptOutcome,
    LLMRequest,
    LLMResult,
    ResultStatus,
    encode,
    requests_topic,
    results_topic,
)
from tests.kafka_helpers import MakeProducer, MakeTopics

pytestmark = pytest.mark.kafka

REQUESTS = 1000
LABELS = ("spam", "ok")


def _result(
    request_id: str, task: str, model: str, label: str, cost: str, **kw: object
) -> LLMResult:
    attempt = Attempt(
        model=model,
        provider="openai",
        outcome=AttemptOutcome.OK,
        input_tokens=10,
        output_tokens=2,
        cost_usd=Decimal(cost),
        latency_ms=1.0,
    )
    return LLMResult(
        request_id=request_id,
        task=task,
        status=ResultStatus.OK,
        output=f'{{"label": "{label}"}}',
        model=model,
        attempts=[attempt],
        cost_usd=Decimal(cost),
    )


async def test_feedback_for_a_thousand_requests_is_joined_exactly_once_each(
    kafka_bootstrap: str, make_topics: MakeTopics, make_producer: MakeProducer
) -> None:
    task = f"collect-{uuid.uuid4().hex[:10]}"
    await make_topics(requests_topic(task), results_topic(task), partitions=3)
    await ensure_topics(kafka_bootstrap, {FEEDBACK_TOPIC: 3})
    since = datetime.now(UTC) - timedelta(seconds=1)
    ids = [f"r{i:04d}" for i in range(REQUESTS)]
    truth = {rid: LABELS[i % 2] for i, rid in enumerate(ids)}
    producer = await make_producer()
    sends = []
    for i, rid in enumerate(ids):
        request = LLMRequest(request_id=rid, task=task, input=f"comment number {i}")
        sends.append(await producer.send(requests_topic(task), encode(request), key=rid.encode()))
        # the model answers right on every third request
        answered = truth[rid] if i % 3 == 0 else LABELS[(i + 1) % 2]
        result = _result(rid, task, "cheap", answered, "0.0001")
        sends.append(await producer.send(results_topic(task), encode(result), key=rid.encode()))
    # a result published twice (a retried transaction's copy is flagged, a republish not)
    again = _result(ids[0], task, "cheap", "spam", "0.0001")
    sends.append(await producer.send(results_topic(task), encode(again), key=b"r0000"))
    await asyncio.gather(*sends)
    async with RequestProducer.from_env(kafka_bootstrap) as client:
        await asyncio.gather(
            *(client.send_feedback(rid, task=task, label=truth[rid]) for rid in ids)
        )
        # 100 repeats (one changes its mind: the first still counts) and 50 unknown ids
        await asyncio.gather(
            *(client.send_feedback(rid, task=task, label=truth[rid]) for rid in ids[:99]),
            client.send_feedback(ids[99], task=task, label="changed"),
            *(client.send_feedback(f"nobody-{n}", task=task, label="ok") for n in range(50)),
        )
    # bad feedback on the shared topic is counted, never joined
    for raw in (
        b"not json",
        b'{"request_id": "r0001", "task": "x", "kind": "label", "lable": "ok"}',
    ):
        await producer.send_and_wait(FEEDBACK_TOPIC, raw, key=b"r0001")

    traffic = await read_traffic(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), TrafficWindow(since=since, tasks=(task,))
    )
    joined = join_outcomes(traffic)

    lines = [(o.prompt_id, o.model) for o in joined.outcomes]
    assert len(lines) == len(set(lines)) == REQUESTS
    assert {o.prompt_id for o in joined.outcomes} == set(ids)
    scores = {o.prompt_id: o.score for o in joined.outcomes}
    assert scores == {rid: 1.0 if i % 3 == 0 else 0.0 for i, rid in enumerate(ids)}
    assert all(o.task == task and o.cost_usd == pytest.approx(0.0001) for o in joined.outcomes)
    counts = joined.counts
    assert counts.requests == counts.requests_with_outcomes == REQUESTS
    assert counts.feedback == REQUESTS + 150
    assert counts.duplicate_feedback == 100
    assert counts.unknown_feedback == 50
    assert counts.duplicate_answers == 1
    assert counts.undecodable.get("feedback", 0) >= 2  # others may share the topic

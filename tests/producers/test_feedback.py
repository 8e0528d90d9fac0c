"""The client's feedback: built from exactly one of label, score, thumbs, resolution, sent
on `llm.feedback` keyed by the request id; bad feedback is refused before anything is sent."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import TopicPartition

from llmrouter.core.errors import InvalidMessage
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.producers import RequestProducer
from llmrouter.producers.client import build_feedback
from llmrouter.schemas import FEEDBACK_TOPIC, Feedback, decode
from tests.kafka_helpers import MakeConsumer


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "exactly one of label, score, thumbs, resolution"),
        ({"label": "x", "score": 1.0}, r"given: label, score"),
        ({"score": 2.0}, "score"),
        ({"thumbs": "sideways"}, "thumbs"),
    ],
)
def test_bad_feedback_is_refused_with_a_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        build_feedback("r1", task="moderation", **fields)  # type: ignore[arg-type]


def test_the_kind_is_the_field_given() -> None:
    built = build_feedback("r1", task="moderation", thumbs="down", model="cheap", source="ui")
    assert (built.kind, built.value(), built.model, built.source) == (
        "thumbs",
        "down",
        "cheap",
        "ui",
    )


async def test_feedback_goes_on_the_feedback_topic_keyed_by_request_id(
    kafka_bootstrap: str, make_consumer: MakeConsumer
) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    await ensure_topics(kafka_bootstrap, {FEEDBACK_TOPIC: 3})
    consumer = await make_consumer(enable_auto_commit=False)
    partitions = [TopicPartition(FEEDBACK_TOPIC, p) for p in range(3)]
    consumer.assign(partitions)
    for tp, end in (await consumer.end_offsets(partitions)).items():
        consumer.seek(tp, end)  # only what is sent from now on
    async with RequestProducer.from_env(kafka_bootstrap) as client:
        sent = await client.send_feedback(request_id, task="moderation", score=0.75)
        with pytest.raises(InvalidMessage):
            await client.send_feedback(request_id, task="moderation")
    found: list[Feedback] = []
    async with asyncio.timeout(30):
        while not found:
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            found += [
                decode(record.value, Feedback)
                for records in batch.values()
                for record in records
                if record.key == request_id.encode()
            ]
    assert found == [sent]
    assert sent.kind == "score"
    assert sent.score == 0.75

"""The baselines' at-least-once consumer loop (bench/consumer.py) on the real broker: the
pass-through holds each record its delay, an answering consumer publishes each answer
with its request id, and both commit what they finished."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.consumer import Answer, serve
from llmrouter.schemas import dumps, loads
from tests.kafka_helpers import MakeConsumer, MakeProducer, MakeTopics

RECORDS = 20


@contextlib.asynccontextmanager
async def _serving(args: argparse.Namespace, answer: Answer | None) -> AsyncIterator[None]:
    task = asyncio.create_task(serve(args, answer, name="test consumer"))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _scenario(
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    make_consumer: MakeConsumer,
    answer: Answer | None,
    delay_ms: float = 0.0,
) -> tuple[list[dict[str, Any]], list[float], int]:
    """(answers, seconds from each send to its answer, offsets committed)."""
    source, out = await make_topics(unique_name("bench-in"), unique_name("bench-out"))
    group = unique_name("bench-group")
    args = argparse.Namespace(
        bootstrap=kafka_bootstrap,
        topic=source,
        out=out,
        group=group,
        concurrency=4,
        delay_ms=delay_ms,
    )
    reader = await make_consumer(out)
    producer = await make_producer()
    answers: list[dict[str, Any]] = []
    waited: list[float] = []
    async with _serving(args, answer):
        sent_at: dict[str, float] = {}
        for i in range(RECORDS):
            request_id = f"r{i}"
            sent_at[request_id] = time.monotonic()
            value = dumps({"request_id": request_id, "input": f"question {i}"})
            await producer.send_and_wait(source, value, key=request_id.encode())
        async with asyncio.timeout(60):
            while len(answers) < RECORDS:
                for records in (await reader.getmany(timeout_ms=200)).values():
                    for record in records:
                        answers.append(loads(record.value))
                        waited.append(time.monotonic() - sent_at[answers[-1]["request_id"]])
        committed = await _committed(kafka_bootstrap, group, TopicPartition(source, 0))
    return answers, waited, committed


async def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int:
    """The group's committed offset once it covers every record (the committer runs every
    200 ms; polled for 60 s at most, then whatever it is)."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await probe.start()
    try:
        offset = None
        for _ in range(600):
            offset = await probe.committed(tp)
            if offset == RECORDS:
                break
            await asyncio.sleep(0.1)  # the broker has no notification of a commit
        return offset or 0
    finally:
        await probe.stop()


@pytest.mark.parametrize("delay_ms", [0.0, 300.0])
async def test_the_pass_through_copies_each_record_after_its_delay(
    delay_ms: float,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    make_consumer: MakeConsumer,
) -> None:
    answers, waited, committed = await _scenario(
        kafka_bootstrap,
        unique_name,
        make_topics,
        make_producer,
        make_consumer,
        answer=None,
        delay_ms=delay_ms,
    )
    assert sorted(a["request_id"] for a in answers) == sorted(f"r{i}" for i in range(RECORDS))
    assert all(a["input"].startswith("question") for a in answers)  # copied unchanged
    assert min(waited) >= delay_ms / 1000  # none before its delay
    assert committed == RECORDS


async def test_an_answering_consumer_publishes_each_answer_with_its_request_id(
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    make_consumer: MakeConsumer,
) -> None:
    async def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request["input"].endswith("13"):
            return {"status": "failed", "error": "Boom"}
        return {"status": "ok", "text": request["input"].upper()}

    answers, _, committed = await _scenario(
        kafka_bootstrap, unique_name, make_topics, make_producer, make_consumer, answer
    )
    by_id = {a["request_id"]: a for a in answers}
    assert len(by_id) == RECORDS
    assert by_id["r2"] == {"request_id": "r2", "status": "ok", "text": "QUESTION 2"}
    assert by_id["r13"] == {"request_id": "r13", "status": "failed", "error": "Boom"}
    assert committed == RECORDS

"""`RequestProducer`: what a client service uses to publish LLM work and await results.

async with RequestProducer.from_env() as producer:
    request_id = await producer.submit("moderation", "some user comment")
    result = await producer.submit_and_wait("customer-support-qa", "How do I reset my password?")
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from llmrouter.core import tracing
from llmrouter.core.errors import InvalidMessage, KafkaUnavailable
from llmrouter.kafkaio.errors import kafka_errors
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.schemas import (
    FEEDBACK_TOPIC,
    Feedback,
    LLMRequest,
    LLMResult,
    Priority,
    UserTier,
    decode,
    encode,
    requests_topic,
    results_topic,
    utc_now,
)

__all__ = ["RequestProducer", "ResultWaiter", "build_feedback"]

log = structlog.get_logger("llmrouter.producer")


class RequestProducer:
    """An idempotent producer of requests (acks=all, no duplicates on producer retries)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._producer = AIOKafkaProducer(
            **kafka.client_kwargs(), enable_idempotence=True, acks="all", linger_ms=5
        )
        self._waiters: dict[str, ResultWaiter] = {}
        self._waiters_lock = asyncio.Lock()

    @classmethod
    def from_env(cls, bootstrap_servers: str | None = None) -> RequestProducer:
        return cls(KafkaSettings.from_env(bootstrap_servers))

    async def __aenter__(self) -> Self:
        try:
            with kafka_errors(f"cannot connect to Kafka at {self._kafka.bootstrap_servers}"):
                await self._producer.start()
        except BaseException:  # a producer left open is logged as "Unclosed" at exit
            await self._producer.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for waiter in self._waiters.values():
            await waiter.close()
        self._waiters.clear()
        await self._producer.stop()

    def build(
        self,
        task: str,
        text: str,
        *,
        request_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        user_tier: UserTier | str | None = None,
        priority: Priority | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        deadline: datetime | None = None,
    ) -> LLMRequest:
        try:
            return LLMRequest.model_validate(
                {
                    "request_id": request_id or uuid.uuid4().hex,
                    "task": task,
                    "input": text,
                    "context": dict(context or {}),
                    "user_tier": user_tier,
                    "priority": priority,
                    "metadata": dict(metadata or {}),
                    "created_at": utc_now(),
                    "deadline": deadline,
                }
            )
        except ValueError as exc:
            raise InvalidMessage(f"cannot build request: {exc}") from None

    async def send(self, request: LLMRequest) -> str:
        """Publish a built request; returns its request_id once the broker has it."""
        if request.created_at is None:
            request = request.model_copy(update={"created_at": utc_now()})
        topic = requests_topic(request.task)
        with (
            tracing.span(f"send {topic}", kind="producer", attributes=_send_attributes(request)),
            kafka_errors(f"could not publish request {request.request_id}"),
        ):
            await self._producer.send_and_wait(
                topic,
                encode(request),
                key=request.request_id.encode(),
                headers=tracing.headers_with_context(),  # the trace continues in the workers
            )
        return request.request_id

    async def send_feedback(
        self,
        request_id: str | Feedback,
        *,
        task: str | None = None,
        label: str | None = None,
        score: float | None = None,
        thumbs: str | None = None,
        resolution: str | None = None,
        model: str | None = None,
        source: str | None = None,
    ) -> Feedback:
        """Publish what was learned later about the answer to `request_id` on `llm.feedback`:
        exactly one of `label`, `score` (0..1), `thumbs` ("up"/"down") or `resolution`,
        or a built `Feedback`. Returns the feedback once the broker has it; InvalidMessage
        (nothing sent) when it is not valid."""
        feedback = (
            request_id
            if isinstance(request_id, Feedback)
            else build_feedback(
                request_id,
                task=task,
                label=label,
                score=score,
                thumbs=thumbs,
                resolution=resolution,
                model=model,
                source=source,
            )
        )
        with kafka_errors(f"could not publish feedback on request {feedback.request_id}"):
            await self._producer.send_and_wait(
                FEEDBACK_TOPIC, encode(feedback), key=feedback.request_id.encode()
            )
        return feedback

    async def submit(self, task: str, text: str, **kwargs: Any) -> str:
        return await self.send(self.build(task, text, **kwargs))

    async def submit_and_wait(
        self, task: str, text: str, *, timeout_s: float = 60.0, **kwargs: Any
    ) -> LLMResult:
        """Publish and await the request's result (ok or failed); TimeoutError after timeout_s."""
        waiter = await self.waiter(task)
        request = self.build(task, text, **kwargs)
        future = waiter.expect(request.request_id)
        await self.send(request)
        try:
            return await asyncio.wait_for(future, timeout_s)
        finally:
            waiter.forget(request.request_id)

    async def waiter(self, task: str) -> ResultWaiter:
        """The (started) result reader of a task, shared by every wait on it."""
        async with self._waiters_lock:  # concurrent first waits must share one reader
            waiter = self._waiters.get(task)
            if waiter is None:
                waiter = ResultWaiter(self._kafka, [task])
                await waiter.start()
                self._waiters[task] = waiter
        return waiter


def build_feedback(
    request_id: str,
    *,
    task: str | None,
    label: str | None = None,
    score: float | None = None,
    thumbs: str | None = None,
    resolution: str | None = None,
    model: str | None = None,
    source: str | None = None,
) -> Feedback:
    """A `Feedback` whose kind is the one of label, score, thumbs, resolution that is
    given; InvalidMessage when none or several are, or a field is not valid."""
    given = {
        kind: value
        for kind, value in (
            ("label", label),
            ("score", score),
            ("thumbs", thumbs),
            ("resolution", resolution),
        )
        if value is not None
    }
    if len(given) != 1:
        raise InvalidMessage(
            "feedback says exactly one of label, score, thumbs, resolution "
            f"(given: {', '.join(given) or 'none'})"
        )
    try:
        return Feedback.model_validate(
            {
                "request_id": request_id,
                "task": task,
                "kind": next(iter(given)),
                **given,
                "model": model,
                "source": source,
            }
        )
    except ValueError as exc:
        raise InvalidMessage(f"cannot build feedback: {exc}") from None


class ResultWaiter:
    """Reads `llm.results.<task>` (read_committed, from the end at start) and resolves the
    futures of the request_ids it was asked to expect. No consumer group: it never moves
    anybody's offsets."""

    def __init__(self, kafka: KafkaSettings, tasks: Iterable[str]) -> None:
        self._kafka = kafka
        self._topics = [results_topic(t) for t in tasks]
        self._consumer: AIOKafkaConsumer | None = None
        self._futures: dict[str, asyncio.Future[LLMResult]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **self._kafka.client_kwargs(),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in self._topics
                for p in sorted(
                    consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
                )
            ]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for tp in partitions:  # resolve the end offsets now, before anything is published
                await consumer.position(tp)
        except BaseException:  # a consumer left open is logged as "Unclosed" at exit
            await consumer.stop()
            raise
        self._consumer = consumer
        self._reader = asyncio.create_task(self._read(), name="result-waiter")

    def expect(self, request_id: str) -> asyncio.Future[LLMResult]:
        future: asyncio.Future[LLMResult] = asyncio.get_running_loop().create_future()
        self._futures[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        self._futures.pop(request_id, None)

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        result = decode(record.value, LLMResult)
                    except InvalidMessage:
                        continue
                    future = self._futures.pop(result.request_id, None)
                    if future is not None and not future.done():
                        future.set_result(result)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._consumer is not None:
            await self._consumer.stop()
        for future in self._futures.values():
            future.cancel()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """Partitions of a topic that the consumer's metadata did not know yet."""
    for _ in range(50):
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await asyncio.sleep(0.1)
    raise KafkaUnavailable(
        f"topic {topic} does not exist; start the workers or `llmrouter kafka topics`"
    )


def _send_attributes(request: LLMRequest) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": requests_topic(request.task),
        "llmrouter.request_id": request.request_id,
        "llmrouter.task": request.task,
    }

"""What each worker does with one record. Handlers return outputs or raise; the runtime
(workers/runtime.py) and the error policy (workers/outputs.py) decide the rest."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from llmrouter.core.errors import InvalidMessage, MessageTooLarge
from llmrouter.router import Router
from llmrouter.schemas import (
    Classification,
    ClassifiedRequest,
    LLMRequest,
    LLMResult,
    classified_topic,
    decode,
    encode,
    task_of_topic,
    utc_now,
)
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import result_outputs
from llmrouter.workers.runtime import Output

__all__ = ["ClassifierHandler", "RouterHandler", "classify_request", "route_request"]


def _read(
    record: ConsumerRecord[bytes, bytes], model: type[LLMRequest], max_bytes: int
) -> LLMRequest:
    size = len(record.value) if record.value is not None else 0
    if size > max_bytes:
        raise MessageTooLarge(f"message of {size} bytes is over the limit of {max_bytes}")
    request = decode(record.value, model)
    topic_task = task_of_topic(record.topic)
    if topic_task is not None and topic_task != request.task:
        raise InvalidMessage(
            f"task {request.task!r} does not match topic {record.topic!r}",
            request_id=request.request_id,
        )
    if request.created_at is None:  # latency is measured from when the request was made
        created = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
        request = request.model_copy(update={"created_at": created})
    return request


async def classify_request(router: Router, request: LLMRequest) -> ClassifiedRequest:
    """The classifier worker's work on one request, independent of how it arrived."""
    verdict = await router.classify(request)  # validates task and input size too
    return ClassifiedRequest(
        **request.model_dump(exclude={"schema_version"}),
        complexity=verdict.complexity if verdict else None,
        classification=Classification(
            classifier=verdict.classifier,
            complexity=verdict.complexity,
            confidence=verdict.confidence,
            reason=verdict.reason,
        )
        if verdict
        else None,
        classifier_attempts=verdict.attempts if verdict else [],
        classified_at=utc_now(),
    )


async def route_request(router: Router, request: ClassifiedRequest) -> LLMResult:
    """The routing worker's work on one request; AllModelsFailed carries the failed result."""
    result = await router.route(request)
    METRICS.observe_result(result)
    return result


class ClassifierHandler:
    """`llm.requests.<task>` → `llm.classified.<task>`, with the complexity the route needs."""

    def __init__(self, router: Router, *, max_message_bytes: int) -> None:
        self._router = router
        self._max_bytes = max_message_bytes

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        request = _read(record, LLMRequest, self._max_bytes)
        classified = await classify_request(self._router, request)
        return [Output(classified_topic(request.task), encode(classified), record.key)]


class RouterHandler:
    """`llm.classified.<task>` → a result on `llm.results.<task>` and its cost events."""

    def __init__(self, router: Router, *, max_message_bytes: int) -> None:
        self._router = router
        self._max_bytes = max_message_bytes

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        request = _read(record, ClassifiedRequest, self._max_bytes)
        assert isinstance(request, ClassifiedRequest)
        return result_outputs(await route_request(self._router, request))

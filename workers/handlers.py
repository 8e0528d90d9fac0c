"""What each worker does with one record. Handlers return outputs or raise; the runtime
(workers/runtime.py) and the error policy (workers/outputs.py) decide the rest.

Each handler continues the trace the record's headers carry (`classify <task>`,
`route <task>` spans) and passes it on in the headers of what it publishes. A request too
old to answer (router/expiry.py) gets its `expired` result at once, with no provider call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from llmrouter.core import tracing
from llmrouter.core.errors import AllModelsFailed, InvalidMessage, MessageTooLarge
from llmrouter.router import RoutingEngine
from llmrouter.router.expiry import expiry_reason
from llmrouter.router.state.dedupe import SeenResult
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
from llmrouter.workers.dedupe import claim_request, keep_result, seen_outputs
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import failed_result, result_outputs
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
    if request.created_at is None:  # latency and age are measured from when it was made
        created = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
        request = request.model_copy(update={"created_at": created})
    return request


async def classify_request(router: RoutingEngine, request: LLMRequest) -> ClassifiedRequest:
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


async def route_request(router: RoutingEngine, request: ClassifiedRequest) -> LLMResult:
    """The routing worker's work on one request; AllModelsFailed carries the failed result."""
    result = await router.route(request)
    METRICS.observe_result(result)
    return result


def expired_result(router: RoutingEngine, request: LLMRequest, stage: str) -> LLMResult | None:
    """The `expired` failed result of a request too old to answer, counted; else None."""
    now = utc_now()
    reason = expiry_reason(request, router.validate(request), now)
    if reason is None:
        return None
    age_ms = (now - request.created_at).total_seconds() * 1000 if request.created_at else 0.0
    result = failed_result(
        request.request_id, request.task, reason, metadata=request.metadata, latency_ms=age_ms
    ).model_copy(update={"user_tier": request.user_tier, "priority": request.priority})
    METRICS.expired.labels(request.task, stage).inc()
    METRICS.observe_result(result)
    return result


def _stage_attributes(request: LLMRequest, record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": record.topic,
        "messaging.kafka.offset": record.offset,
        "llmrouter.request_id": request.request_id,
        "llmrouter.task": request.task,
    }


def _result_attributes(result: LLMResult) -> dict[str, Any]:
    return {
        "llmrouter.outcome": "expired"
        if (result.error or "").startswith("expired")
        else result.status.value,
        "llmrouter.model": result.model,
        "llmrouter.route": result.route,
        "llmrouter.complexity": result.complexity.value if result.complexity else None,
        "llmrouter.cost_usd": float(result.cost_usd),
        "llmrouter.escalated": result.escalated,
        "llmrouter.fallback_used": result.fallback_used,
        "llmrouter.attempts": len(result.attempts),
    }


class _StageHandler:
    """What both pipeline steps hold: the router and the size limit of a record."""

    def __init__(self, router: RoutingEngine, *, max_message_bytes: int) -> None:
        #: swapped by a config reload; a record in flight finishes with the router it began with
        self.router = router
        self._max_bytes = max_message_bytes


class ClassifierHandler(_StageHandler):
    """`llm.requests.<task>` → `llm.classified.<task>`, with the complexity the route needs."""

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        router = self.router
        request = _read(record, LLMRequest, self._max_bytes)
        with tracing.span(
            f"classify {request.task}",
            kind="consumer",
            parent=record.headers,
            attributes=_stage_attributes(request, record),
        ) as span:
            expired = expired_result(router, request, "classifier")
            if expired is not None:
                span.set(_result_attributes(expired))
                return result_outputs(expired, tracing.headers_with_context())
            classified = await classify_request(router, request)
            span.set(
                {
                    "llmrouter.complexity": classified.complexity.value
                    if classified.complexity
                    else None,
                    "llmrouter.classifier": classified.classification.classifier
                    if classified.classification
                    else "none",
                }
            )
            headers = tuple(tracing.headers_with_context(record.headers))
        return [Output(classified_topic(request.task), encode(classified), record.key, headers)]


class RouterHandler(_StageHandler):
    """`llm.classified.<task>` → a result on `llm.results.<task>` and its cost events."""

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        router = self.router
        request = _read(record, ClassifiedRequest, self._max_bytes)
        assert isinstance(request, ClassifiedRequest)
        with tracing.span(
            f"route {request.task}",
            kind="consumer",
            parent=record.headers,
            attributes=_stage_attributes(request, record),
        ) as span:
            result = expired_result(router, request, "router")
            if result is None:
                # request_id is an idempotency key (workers/dedupe.py)
                claim = await claim_request(router, request, record)
                if isinstance(claim, SeenResult):
                    headers = tracing.headers_with_context(record.headers)
                    return seen_outputs(router, claim, record, headers)
                try:
                    result = await route_request(router, request)
                except BaseException as exc:
                    await claim.release()
                    if isinstance(exc, AllModelsFailed) and isinstance(exc.result, LLMResult):
                        span.set(_result_attributes(exc.result))
                    raise
                await keep_result(claim, result)
            span.set(_result_attributes(result))
            headers = tracing.headers_with_context(record.headers)
        return result_outputs(result, headers)

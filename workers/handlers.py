"""What each worker does with one record: its handler returns the outputs to publish.

The classifier's is the classified request and the cost events of its own calls; the
router's is the result, the cost events of its calls (not the classifier stage's again)
and, when no model answered, the request's dead letter with every error. The cost events
of calls no result carries (a record cut off, a handler that raised) go out bound to no
record: workers/accounting.py. A handler raises
only for a record it cannot handle (unreadable, an unknown task, a bug): the runtime hands
those to the error policy (workers/outputs.py).

Each handler continues the trace the record's headers carry (`classify <task>`,
`route <task>` spans) and passes it on in the headers of what it publishes. A request too
old to answer (router/expiry.py) gets its `expired` result at once, with no provider call.
The router routes a request id at most once (`RoutingEngine.route_once`): a later record
of it publishes the earlier result.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from llmrouter.core import tracing
from llmrouter.core.errors import DuplicateConflict, InvalidMessage, MessageTooLarge
from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.classifiers import ClassifierVerdict
from llmrouter.router.config import TaskSpec
from llmrouter.router.expiry import EXPIRED, expiry_reason
from llmrouter.router.routed import Earlier
from llmrouter.schemas import (
    Classification,
    ClassifiedRequest,
    LLMRequest,
    LLMResult,
    classified_topic,
    decode,
    dumps,
    encode,
    task_of_topic,
    utc_now,
)
from llmrouter.schemas.topics import is_requests_topic
from llmrouter.workers.accounting import (
    PublishUnbound,
    accounted,
    attempt_cost_outputs,
    carried_by_classifier,
    mark_classifier_costs,
    without_carried,
)
from llmrouter.workers.batch.handover import BatchHandover
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import (
    MAX_ECHOED_METADATA_BYTES,
    WorkerIdentity,
    bounded_headers,
    dead_letter,
    earlier_outputs,
    failed_result,
    result_outputs,
    routed_outputs,
)

__all__ = ["ClassifierHandler", "RouterHandler", "origin_of", "record_size_bytes"]


def _read(
    record: ConsumerRecord[bytes, bytes], model: type[LLMRequest], max_bytes: int
) -> LLMRequest:
    size = record_size_bytes(record)
    if size > max_bytes:
        raise MessageTooLarge(
            f"message of {size} bytes (key, value and headers) is over the limit of {max_bytes}"
        )
    request = decode(record.value, model)
    metadata_bytes = len(dumps(request.metadata))
    if metadata_bytes > MAX_ECHOED_METADATA_BYTES:  # a result echoes it: keep that bounded
        raise InvalidMessage(
            f"metadata of {metadata_bytes} bytes is over the limit of"
            f" {MAX_ECHOED_METADATA_BYTES} a result echoes",
            request_id=request.request_id,
        )
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


def record_size_bytes(record: ConsumerRecord[bytes, bytes]) -> int:
    """What a record brings in: its key, value and headers (names and values)."""
    headers = sum(
        len(name.encode(errors="replace")) + len(value or b"")
        for name, value in record.headers or ()
    )
    return len(record.key or b"") + len(record.value or b"") + headers


def origin_of(record: ConsumerRecord[bytes, bytes]) -> str:
    """The record a request came in, as its idempotency claim names it."""
    return f"{record.topic}:{record.partition}:{record.offset}"


#: the request's own fields, which a classified request carries on
_REQUEST_FIELDS = tuple(name for name in LLMRequest.model_fields if name != "schema_version")


def _classified(request: LLMRequest, verdict: ClassifierVerdict | None) -> ClassifiedRequest:
    """The request with its verdict: its fields taken as they are (not dumped to a dict of
    copies first), then validated with the verdict's; tests/workers/test_classified_bytes.py
    pins the bytes."""
    return ClassifiedRequest(
        **{name: getattr(request, name) for name in _REQUEST_FIELDS},
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


def _expired_result(request: LLMRequest, task: TaskSpec, stage: str) -> LLMResult | None:
    """The `expired` failed result of a request too old to answer, counted; else None."""
    now = utc_now()
    reason = expiry_reason(request, task, now)
    if reason is None:
        return None
    age_ms = (now - request.created_at).total_seconds() * 1000 if request.created_at else 0.0
    result = failed_result(
        request.request_id, request.task, reason, metadata=request.metadata, latency_ms=age_ms
    ).model_copy(update={"user_tier": request.user_tier, "priority": request.priority})
    METRICS.expired.labels(request.task, stage).inc()
    METRICS.observe_result(result)
    return result


def _conflict_outputs(
    request: LLMRequest,
    record: ConsumerRecord[bytes, bytes],
    identity: WorkerIdentity,
    exc: DuplicateConflict,
) -> list[Output]:
    """A request id reused for another input: its `duplicate_conflict` failed result (no
    call made, the earlier answer not handed out) and the request kept on the DLQ."""
    result = failed_result(
        request.request_id, request.task, str(exc), metadata=request.metadata
    ).model_copy(update={"user_tier": request.user_tier, "priority": request.priority})
    METRICS.duplicates.labels(request.task, "conflict").inc()
    METRICS.observe_result(result)
    outputs = result_outputs(result, tracing.headers_with_context(record.headers))
    return [*outputs, dead_letter(identity, record, exc)]


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
        #: where the cost events of calls no result carries go (workers/accounting.py):
        #: the worker's `publish_unbound`, set at launch
        self.publish_unbound: PublishUnbound | None = None


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
            task = router.validate(request)
            expired = _expired_result(request, task, "classifier")
            if expired is not None:
                span.set(_result_attributes(expired))
                return result_outputs(expired, tracing.headers_with_context())
            ledger = router.ledger(request)
            with accounted("classifier", ledger, self.publish_unbound):
                verdict = await router.classify(request, task, ledger=ledger)
            classified = _classified(request, verdict)
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
            # this stage publishes its calls' cost events; the router stage then does not
            headers = mark_classifier_costs(
                bounded_headers(tracing.headers_with_context(record.headers))
            )
        costs = attempt_cost_outputs(request, classified.classifier_attempts)
        return [
            Output(classified_topic(request.task), encode(classified), record.key, headers),
            *costs,
        ]


class RouterHandler(_StageHandler):
    """`llm.classified.<task>`, or `llm.requests.<task>` for a task that needs no
    classifier stage → a result on `llm.results.<task>` and its cost events; a request no
    model answered is dead-lettered too, in the name of `identity`."""

    def __init__(
        self,
        router: RoutingEngine,
        *,
        max_message_bytes: int,
        identity: WorkerIdentity | None = None,
    ) -> None:
        super().__init__(router, max_message_bytes=max_message_bytes)
        self.identity = identity or WorkerIdentity("router")
        #: hands batch-priority requests of a model with `batch_api` to its batch jobs
        #: (workers/batch/), set at launch
        self.batches: BatchHandover | None = None

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> list[Output]:
        router = self.router
        # a task whose routes need no complexity comes straight from llm.requests
        # (router/paths.py); the engine classifies one that turns out to need it
        direct = is_requests_topic(record.topic)
        request = _read(record, LLMRequest if direct else ClassifiedRequest, self._max_bytes)
        with tracing.span(
            f"route {request.task}",
            kind="consumer",
            parent=record.headers,
            attributes=_stage_attributes(request, record),
        ) as span:
            task = router.validate(request)
            expired = _expired_result(request, task, "router")
            if expired is not None:
                span.set(_result_attributes(expired))
                return result_outputs(expired, tracing.headers_with_context(record.headers))
            if self.batches is not None:  # batch priority: to a provider batch job instead
                handed = await self.batches.hand_over(router, request, task, record)
                if handed is not None:
                    return handed
            ledger = router.ledger(request)
            # cost events the classifier stage published already (none on the direct path)
            staged = request.classifier_attempts if isinstance(request, ClassifiedRequest) else []
            carried = carried_by_classifier(record, len(staged))
            try:
                with accounted("router", ledger, self.publish_unbound, carried=carried):
                    routed = await router.route_once(
                        request, origin_of(record), task=task, ledger=ledger
                    )
            except DuplicateConflict as exc:
                span.error(str(exc))
                return _conflict_outputs(request, record, self.identity, exc)
            headers = tracing.headers_with_context(record.headers)
            if isinstance(routed, Earlier):
                drop = router.config.defaults.duplicates == "drop"
                return without_carried(earlier_outputs(routed, drop=drop, headers=headers), carried)
            METRICS.observe_result(routed.result)
            if (routed.result.error or "").startswith(EXPIRED):  # ran out of time at a call
                METRICS.expired.labels(request.task, "call").inc()
            span.set(_result_attributes(routed.result))
            if routed.failure is not None:
                span.error(f"{type(routed.failure).__name__}: {routed.failure}")
        return without_carried(routed_outputs(routed, record, self.identity, headers), carried)

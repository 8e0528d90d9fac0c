"""Turning results and failures into the messages a worker publishes.

Every output is bounded whatever the record held: a dead letter carries at most
`PAYLOAD_PREFIX_BYTES` of the original value (with its size and SHA-256), a result
echoes at most `MAX_ECHOED_METADATA_BYTES` of request metadata and
`MAX_ECHOED_HEADERS_BYTES` of record headers, and the error policy never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog
from aiokafka import ConsumerRecord

from llmrouter.core.errors import LLMRouterError
from llmrouter.core.tracing import Headers
from llmrouter.kafkaio.transactions import Output
from llmrouter.router.routed import Earlier, Routed
from llmrouter.router.secrets import redact
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    CostEvent,
    DeadLetter,
    LLMResult,
    ResultStatus,
    dumps,
    encode,
    loads,
    peek_request_id,
    results_topic,
    task_of_topic,
    validate_task_name,
)
from llmrouter.schemas.dlq import payload_prefix
from llmrouter.workers.metrics import METRICS

log = structlog.get_logger("llmrouter.workers")

__all__ = [
    "MAX_ECHOED_HEADERS_BYTES",
    "MAX_ECHOED_METADATA_BYTES",
    "MAX_REQUEST_ID_CHARS",
    "ErrorPolicy",
    "WorkerIdentity",
    "bounded_headers",
    "cost_events",
    "dead_letter",
    "earlier_outputs",
    "failed_result",
    "last_resort_dead_letter",
    "result_outputs",
    "routed_outputs",
]

_MAX_REASON_CHARS = 300
#: the longest request id a result can carry (`RequestId` in the wire contract)
MAX_REQUEST_ID_CHARS = 256
#: request metadata a result echoes: a request with more is refused (workers/handlers.py),
#: and a failed result of one echoes none
MAX_ECHOED_METADATA_BYTES = 16_384
#: record headers (names and values) a result echoes, in order; later ones that would go
#: over are left off
MAX_ECHOED_HEADERS_BYTES = 16_384
#: the most of a record's key a dead letter carries (and is keyed by)
_MAX_KEY_BYTES = 1024
#: the most of the value a dead letter carries when even the error policy failed
_LAST_RESORT_PREFIX_BYTES = 1024


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    """Who writes a dead letter: the worker kind (also the stage), its consumer group
    (which names the deployment) and its instance."""

    kind: str
    group_id: str | None = None
    instance_id: str | None = None


def result_outputs(
    result: LLMResult, headers: Headers = (), *, encoded: bytes | None = None
) -> list[Output]:
    """The result on `llm.results.<task>` (`encoded`: its bytes, when encoded already) and
    one cost event per attempt on `llm.costs`."""
    key = result.request_id.encode()
    hdrs = bounded_headers(headers)
    value = encode(result) if encoded is None else encoded
    outputs = [Output(results_topic(result.task), value, key, headers=hdrs)]
    outputs += [Output(COSTS_TOPIC, encode(event), key) for event in cost_events(result)]
    return outputs


def routed_outputs(
    routed: Routed,
    record: ConsumerRecord[bytes, bytes],
    identity: WorkerIdentity,
    headers: Headers = (),
) -> list[Output]:
    """The result and its cost events (the calls were made and billed, answered or not);
    when no model answered, the request's dead letter too, with every error."""
    outputs = result_outputs(routed.result, headers, encoded=routed.encoded)
    if routed.failure is not None:
        METRICS.dead_letters.labels(identity.kind, type(routed.failure).__name__).inc()
        outputs.append(dead_letter(identity, record, routed.failure))
    return outputs


def earlier_outputs(earlier: Earlier, *, drop: bool, headers: Headers = ()) -> list[Output]:
    """What a record whose request id has a result already publishes: a redelivery, the
    result as the original (cost events too); a duplicate, the result marked
    `duplicate: true` and no cost events, or nothing when duplicates are dropped."""
    result = earlier.result
    if earlier.redelivered:
        return result_outputs(result, headers)
    METRICS.duplicates.labels(result.task, "dropped" if drop else "republished").inc()
    if drop:
        return []
    copy = result.model_copy(update={"duplicate": True})
    key = result.request_id.encode()
    return [Output(results_topic(result.task), encode(copy), key, headers=bounded_headers(headers))]


def bounded_headers(headers: Iterable[tuple[str, bytes | None]]) -> tuple[tuple[str, bytes], ...]:
    """`headers` in order, leaving off any that would take the echoed names and values
    over `MAX_ECHOED_HEADERS_BYTES`."""
    kept: list[tuple[str, bytes]] = []
    total = 0
    for name, value in headers:
        size = len(name.encode(errors="replace")) + len(value or b"")
        if total + size > MAX_ECHOED_HEADERS_BYTES:
            continue
        total += size
        kept.append((name, value or b""))
    return tuple(kept)


def cost_events(result: LLMResult) -> list[CostEvent]:
    """One cost event per attempt (provider call or cache hit), numbered as on the result.
    (Validated: pydantic's `model_construct` is slower than its validator for a model of
    this many fields.)"""
    return [
        CostEvent(
            request_id=result.request_id,
            task=result.task,
            attempt=index,
            purpose=attempt.purpose,
            model=attempt.model,
            model_version=attempt.model_version,
            provider=attempt.provider,
            input_tokens=attempt.input_tokens,
            output_tokens=attempt.output_tokens,
            cache_read_tokens=attempt.cache_read_tokens,
            cache_write_tokens=attempt.cache_write_tokens,
            reasoning_tokens=attempt.reasoning_tokens,
            price_source=attempt.price_source,
            cost_usd=attempt.cost_usd,
            cached=attempt.cached,
            outcome=attempt.outcome,
            latency_ms=attempt.latency_ms,
            user_tier=result.user_tier,
            learned_choice=result.learned_choice,
            predicted_score=result.predicted_score,
            ts=result.finished_at,
        )
        for index, attempt in enumerate(result.attempts)
    ]


def failed_result(
    request_id: str, task: str, reason: str, *, metadata: object = None, latency_ms: float = 0.0
) -> LLMResult:
    """A `failed` result that made no provider call, so a waiting client hears the reason;
    it echoes `metadata` only when that is within `MAX_ECHOED_METADATA_BYTES`."""
    return LLMResult(
        request_id=request_id,
        task=task,
        status=ResultStatus.FAILED,
        error=redact(reason)[:_MAX_REASON_CHARS],
        metadata=metadata if isinstance(metadata, dict) and _echoable(metadata) else {},
        latency_ms=max(0.0, latency_ms),
    )


def _echoable(metadata: dict[str, object]) -> bool:
    try:
        return len(dumps(metadata)) <= MAX_ECHOED_METADATA_BYTES
    except (TypeError, ValueError):
        return False


def dead_letter(
    identity: WorkerIdentity, record: ConsumerRecord[bytes, bytes], exc: BaseException
) -> Output:
    """`record` on `llm.dlq`, with why (`exc`) and who wrote it (`identity`): at most
    `PAYLOAD_PREFIX_BYTES` of its value, with the size and SHA-256 of all of it. A request
    id too long for a result is not echoed: the reason says so."""
    request_id = _request_id(record, exc)
    error = _reason(exc, 1000)
    if request_id is not None and len(request_id) > MAX_REQUEST_ID_CHARS:
        error = f"{_too_long_id(request_id)}; {error}"
        request_id = None
    key = record.key[:_MAX_KEY_BYTES] if record.key is not None else None
    prefix = payload_prefix(record.value)
    letter = DeadLetter(
        stage=identity.kind,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_type=type(exc).__name__,
        error=error,
        payload=prefix.payload,
        payload_encoding=prefix.payload_encoding,
        payload_size_bytes=prefix.payload_size_bytes,
        payload_sha256=prefix.payload_sha256,
        payload_truncated=prefix.payload_truncated,
        key=key.decode(errors="replace") if key is not None else None,
        request_id=request_id,
        worker=identity.kind,
        group_id=identity.group_id,
        instance_id=identity.instance_id,
    )
    return Output(DLQ_TOPIC, encode(letter), key)


def last_resort_dead_letter(
    identity: WorkerIdentity,
    record: ConsumerRecord[bytes, bytes],
    exc: BaseException,
    policy_exc: BaseException,
) -> Output:
    """The dead letter of a record the error policy itself failed on, built only from
    what is certainly valid: where the record was, the error types, and a short prefix of
    its value with the size and SHA-256 of all of it."""
    prefix = payload_prefix(record.value, _LAST_RESORT_PREFIX_BYTES)
    letter = DeadLetter(
        stage=identity.kind,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_type=type(exc).__name__,
        error=f"the error policy failed too ({type(policy_exc).__name__})",
        payload=prefix.payload,
        payload_encoding=prefix.payload_encoding,
        payload_size_bytes=prefix.payload_size_bytes,
        payload_sha256=prefix.payload_sha256,
        payload_truncated=prefix.payload_truncated,
        worker=identity.kind,
        group_id=identity.group_id,
        instance_id=identity.instance_id,
    )
    return Output(DLQ_TOPIC, encode(letter))


class ErrorPolicy:
    """What a record whose handler raised publishes, in one transaction: a dead letter,
    and — when its request_id and task can be read — a `failed` result with a short
    reason, so a waiting client hears back at once. (A request whose every model failed
    is not one of these: its handler returns its result, `routed_outputs`.)

    `answerable(task)` says whether a result may be published for a task: the results
    topic of a task nobody serves may not exist, and a send to it would block every
    transaction of the worker."""

    def __init__(
        self, identity: WorkerIdentity, answerable: Callable[[str], bool] | None = None
    ) -> None:
        self.identity = identity
        self.answerable = answerable or (lambda _task: True)

    def __call__(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> list[Output]:
        """Never raises: should building the outputs fail, the record gets a minimal dead
        letter (`last_resort_dead_letter`) instead."""
        try:
            return self._outputs(record, exc)
        except Exception as policy_exc:
            log.error(
                "the error policy failed; minimal dead letter",
                stage=self.identity.kind,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error_type=type(exc).__name__,
                policy_error_type=type(policy_exc).__name__,
            )
            METRICS.dead_letters.labels(self.identity.kind, type(exc).__name__).inc()
            return [last_resort_dead_letter(self.identity, record, exc, policy_exc)]

    def _outputs(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> list[Output]:
        stage = self.identity.kind
        METRICS.dead_letters.labels(stage, type(exc).__name__).inc()
        letter = dead_letter(self.identity, record, exc)
        headers = bounded_headers(record.headers or ())
        if not isinstance(exc, LLMRouterError):  # a bug, not bad input: say so loudly
            log.error("unexpected error; dead-lettered", stage=stage, error=repr(exc), exc_info=exc)
        answer = self._answer(record, exc)
        if answer is None:
            return [letter]
        METRICS.observe_result(answer)
        return [*result_outputs(answer, headers), letter]

    def _answer(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> LLMResult | None:
        request_id = _request_id(record, exc)
        fields = _fields(record.value)
        task = _readable_task(record.topic, fields.get("task"))
        if request_id is None or task is None or not self.answerable(task):
            return None
        if len(request_id) > MAX_REQUEST_ID_CHARS:  # no result can carry it: dead letter only
            return None
        reason = f"{type(exc).__name__}: {_reason(exc, _MAX_REASON_CHARS)}"
        return failed_result(request_id, task, reason, metadata=fields.get("metadata"))


def _too_long_id(request_id: str) -> str:
    return (
        f"request_id of {len(request_id)} characters is over the limit of"
        f" {MAX_REQUEST_ID_CHARS}: no result can carry it"
    )


def _reason(exc: BaseException, limit: int) -> str:
    return redact(str(exc))[:limit] or type(exc).__name__


def _request_id(record: ConsumerRecord[bytes, bytes], exc: BaseException) -> str | None:
    rid = getattr(exc, "request_id", None) or peek_request_id(record.value)
    return rid if isinstance(rid, str) and rid else None


def _fields(raw: bytes | None) -> dict[str, object]:
    try:
        obj = loads(raw) if raw else None
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _readable_task(topic: str, payload_task: object) -> str | None:
    """The task whose results topic the client waits on: the topic's own task (a producer
    sends each request to its task's topic), else a valid task name in the payload."""
    task = task_of_topic(topic)
    if task is not None:
        return task
    if isinstance(payload_task, str):
        try:
            return validate_task_name(payload_task)
        except ValueError:
            return None
    return None

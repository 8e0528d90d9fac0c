"""Turning results and failures into the messages a worker publishes."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from aiokafka import ConsumerRecord

from llmrouter.core.errors import AllModelsFailed, LLMRouterError
from llmrouter.router.secrets import redact
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    CostEvent,
    DeadLetter,
    LLMResult,
    encode,
    encode_payload,
    peek_request_id,
    results_topic,
)
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.runtime import Output

log = structlog.get_logger("llmrouter.workers")

__all__ = ["cost_events", "dead_letter", "error_policy", "result_outputs"]

ErrorPolicyFn = Callable[[ConsumerRecord[bytes, bytes], Exception], list[Output]]


def result_outputs(result: LLMResult) -> list[Output]:
    """The result on `llm.results.<task>` and one cost event per attempt on `llm.costs`."""
    key = result.request_id.encode()
    outputs = [Output(results_topic(result.task), encode(result), key)]
    outputs += [Output(COSTS_TOPIC, encode(event), key) for event in cost_events(result)]
    return outputs


def cost_events(result: LLMResult) -> list[CostEvent]:
    """One cost event per attempt (provider call or cache hit), numbered as on the result."""
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
            cost_usd=attempt.cost_usd,
            cached=attempt.cached,
            outcome=attempt.outcome,
            latency_ms=attempt.latency_ms,
            user_tier=result.user_tier,
            ts=result.finished_at,
        )
        for index, attempt in enumerate(result.attempts)
    ]


def dead_letter(stage: str, record: ConsumerRecord[bytes, bytes], exc: BaseException) -> Output:
    payload, encoding = encode_payload(record.value)
    request_id = getattr(exc, "request_id", None) or peek_request_id(record.value)
    letter = DeadLetter(
        stage=stage,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_type=type(exc).__name__,
        error=redact(str(exc))[:1000] or type(exc).__name__,
        payload=payload,
        payload_encoding=encoding,
        key=record.key.decode(errors="replace") if record.key is not None else None,
        request_id=request_id,
    )
    return Output(DLQ_TOPIC, encode(letter), record.key)


def error_policy(stage: str) -> ErrorPolicyFn:
    """What a failed record publishes. A request whose every model failed gets its failed
    result (so a waiting client hears back), its cost events (the calls were made and
    billed), and a dead letter; anything else unreadable or unexpected, a dead letter."""

    def policy(record: ConsumerRecord[bytes, bytes], exc: Exception) -> list[Output]:
        METRICS.dead_letters.labels(stage, type(exc).__name__).inc()
        if isinstance(exc, AllModelsFailed) and isinstance(exc.result, LLMResult):
            METRICS.observe_result(exc.result)
            return [*result_outputs(exc.result), dead_letter(stage, record, exc)]
        if not isinstance(exc, LLMRouterError):  # a bug, not bad input: say so loudly
            log.error("unexpected error; dead-lettered", stage=stage, error=repr(exc), exc_info=exc)
        return [dead_letter(stage, record, exc)]

    return policy

"""What an ended job publishes: per entry, its result and cost events at the batch price
(answered), or its fallback — the request back on `llm.classified.<task>` marked to be
routed as a realtime request (`realtime`), or a `failed` result (`fail`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from llmrouter.core.errors import LLMRouterError
from llmrouter.kafkaio.transactions import Output
from llmrouter.router.config import ModelSpec
from llmrouter.router.config_batch import BatchApiSpec
from llmrouter.router.pricing import BATCH_PRICE_MARK, UsageClasses, price_call
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.batch_base import LineOutcome
from llmrouter.router.providers.call import SdkProvider
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    LLMResult,
    ResultStatus,
    classified_topic,
    encode,
    utc_now,
)
from llmrouter.schemas.batches import BatchEntry
from llmrouter.workers.accounting import mark_classifier_costs, without_carried
from llmrouter.workers.batch.handover import FALLBACK_HEADER
from llmrouter.workers.outputs import failed_result, result_outputs

__all__ = ["BATCH_PRICE_MARK", "Published", "entry_outputs"]


@dataclass(frozen=True, slots=True)
class Published:
    outputs: list[Output]
    #: answered, fallback or failed
    outcome: str
    #: the answer (answered): kept for later copies of its request id
    result: LLMResult | None = None
    #: the batch call's cost (answered), for the task's daily budget
    charge_usd: Decimal = Decimal(0)


def entry_outputs(
    entry: BatchEntry,
    outcome: LineOutcome | None,
    spec: ModelSpec,
    client: SdkProvider | None,
    policy: BatchApiSpec,
    job_status: str,
) -> Published:
    """The outputs of one entry of an ended job; `outcome` None: the job said nothing of it."""
    error = f"batch job {job_status}: no answer" if outcome is None else outcome.error
    if outcome is not None and outcome.body is not None and client is not None:
        try:
            outputs, result, cost_usd = _answered(entry, outcome, spec, client)
            return Published(outputs, "answered", result, cost_usd)
        except LLMRouterError as exc:
            error = f"unreadable answer: {exc}"
    headers = _headers(entry)
    request = entry.request
    if policy.fallback == "realtime":
        back = (*headers, (FALLBACK_HEADER, (error or "no answer").encode()[:200]))
        if entry.carried:
            back = mark_classifier_costs(back)
        topic = classified_topic(request.task)
        return Published(
            [Output(topic, encode(request), request.request_id.encode(), back)], "fallback"
        )
    result = failed_result(
        request.request_id, request.task, f"batch: {error}", metadata=request.metadata
    ).model_copy(
        update={
            "user_tier": request.user_tier,
            "priority": request.priority,
            "attempts": list(request.classifier_attempts),
            "cost_usd": sum((a.cost_usd for a in request.classifier_attempts), Decimal(0)),
        }
    )
    return Published(without_carried(result_outputs(result, headers), entry.carried), "failed")


def _headers(entry: BatchEntry) -> tuple[tuple[str, bytes], ...]:
    return (("traceparent", entry.traceparent.encode()),) if entry.traceparent else ()


def _answered(
    entry: BatchEntry, outcome: LineOutcome, spec: ModelSpec, client: SdkProvider
) -> tuple[list[Output], LLMResult, Decimal]:
    """The answer's outputs, the answer, and what its batch call cost."""
    assert outcome.body is not None
    chat = ChatRequest(
        model_id=spec.model_id,
        system=None,
        user="",
        max_output_tokens=1,
        temperature=0.0,
        timeout_s=1.0,
    )
    completion = client.read(chat, outcome.body)
    cost_usd, source = price_call(
        spec,
        UsageClasses(
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cache_read_tokens=completion.cache_read_tokens,
            cache_write_tokens=completion.cache_write_tokens,
            cache_write_1h_tokens=completion.cache_write_1h_tokens,
            reasoning_tokens=completion.reasoning_tokens,
        ),
        batch=True,
    )
    request = entry.request
    now = utc_now()
    waited_ms = max(0.0, (now - entry.handed_at).total_seconds() * 1000)
    attempt = Attempt(
        model=entry.model,
        provider=entry.provider,
        model_version=completion.model_version,
        outcome=AttemptOutcome.OK,
        latency_ms=waited_ms,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cache_read_tokens=completion.cache_read_tokens,
        cache_write_tokens=completion.cache_write_tokens,
        reasoning_tokens=completion.reasoning_tokens,
        cost_usd=cost_usd,
        price_source=source + BATCH_PRICE_MARK,
    )
    attempts = [*request.classifier_attempts, attempt]
    created = request.created_at or entry.handed_at
    result = LLMResult(
        request_id=request.request_id,
        task=request.task,
        status=ResultStatus.OK,
        output=completion.text,
        model=entry.model,
        model_version=completion.model_version,
        provider=entry.provider,
        complexity=request.complexity,
        route=entry.route,
        attempts=attempts,
        cost_usd=sum((a.cost_usd for a in attempts), Decimal(0)),
        latency_ms=max(0.0, (now - created).total_seconds() * 1000),
        user_tier=request.user_tier,
        priority=request.priority,
        metadata=request.metadata,
    )
    outputs = without_carried(result_outputs(result, _headers(entry)), entry.carried)
    return outputs, result, cost_usd

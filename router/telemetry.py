"""The span of one provider call, with OpenTelemetry's GenAI semantic-convention attributes
(`gen_ai.*`) and ours (`llmrouter.*`: catalog model, purpose, outcome, cost). Prompt and
answer text are never recorded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from llmrouter.core import tracing
from llmrouter.router.providers.base import ChatRequest
from llmrouter.schemas import Attempt, AttemptOutcome

__all__ = ["provider_call_span", "record_attempt"]

#: our provider names as the GenAI conventions' `gen_ai.system` values
_GEN_AI_SYSTEM = {"openai": "openai", "anthropic": "anthropic", "azure-openai": "az.ai.openai"}


@contextlib.contextmanager
def provider_call_span(
    model: str, provider: str, chat: ChatRequest, purpose: str
) -> Iterator[tracing.SpanHandle]:
    system = _GEN_AI_SYSTEM.get(provider, provider)
    with tracing.span(
        f"chat {chat.model_id}",
        kind="client",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.system": system,
            "gen_ai.provider.name": system,
            "gen_ai.request.model": chat.model_id,
            "gen_ai.request.max_tokens": chat.max_output_tokens,
            "gen_ai.request.temperature": chat.temperature,
            "llmrouter.model": model,
            "llmrouter.provider": provider,
            "llmrouter.purpose": purpose,
        },
    ) as span:
        yield span


def record_attempt(span: tracing.SpanHandle, attempt: Attempt) -> None:
    """What the call came to: tokens, cost, outcome (and the error type when it failed)."""
    span.set(
        {
            "gen_ai.response.model": attempt.model_version or None,
            "gen_ai.usage.input_tokens": attempt.input_tokens,
            "gen_ai.usage.output_tokens": attempt.output_tokens,
            "llmrouter.outcome": attempt.outcome.value,
            "llmrouter.cost_usd": float(attempt.cost_usd),
            "llmrouter.latency_ms": round(attempt.latency_ms, 3),
        }
    )
    if attempt.outcome is not AttemptOutcome.OK:
        span.set({"error.type": attempt.outcome.value})
        span.error(attempt.error or attempt.outcome.value)

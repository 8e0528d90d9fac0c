"""The support prompt every system of the benchmarks sends, and its rendering for the
baseline consumers. Standard library only: the LiteLLM consumer imports it from a
virtualenv of its own, where the product is not installed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

__all__ = ["SUPPORT_SYSTEM", "SUPPORT_TEMPLATE", "support_messages"]

SUPPORT_SYSTEM = "You are a customer support assistant."
SUPPORT_TEMPLATE = (
    "Answer this question based on our knowledge base:\n"
    "Knowledge base: {kb_context}\n"
    "Question: {question}\n"
    "Provide a helpful, professional response.\n"
)


def support_messages(request: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages of one request (a decoded `LLMRequest`), as the router renders
    the bench task's prompt: the system text, then the template with the request's
    context and its input as `question`."""
    context: defaultdict[str, str] = defaultdict(str, request.get("context") or {})
    prompt = SUPPORT_TEMPLATE.format_map(context | {"question": request["input"]})
    return [
        {"role": "system", "content": SUPPORT_SYSTEM},
        {"role": "user", "content": prompt},
    ]

"""Anthropic through `anthropic.AsyncAnthropic`, with the SDK's own retries off.

The SDK is imported when the first client is built, so a worker whose config has no
Anthropic model never loads it. Each call is the request the SDK client itself builds
(router/providers/call.py): same URL, auth, headers and error classes as
`messages.create`, without its per-call transform and response model.
"""

from __future__ import annotations

from typing import Any

from llmrouter.core.errors import ContentPolicyViolation, MalformedResponse
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.call import SdkProvider
from llmrouter.router.providers.structured import (
    ANSWER_TOOL,
    anthropic_tool_fields,
    tool_input_text,
)
from llmrouter.router.providers.usage import anthropic_min_cacheable_tokens, estimate_tokens

__all__ = ["AnthropicProvider"]

_PATH = "/v1/messages"


class AnthropicProvider(SdkProvider):
    def __init__(self, *, api_key: str, base_url: str | None) -> None:
        import anthropic  # here, not at module level: only a worker that uses it pays for it

        super().__init__(
            "anthropic",
            anthropic,
            lambda http: anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, max_retries=0, http_client=http
            ),
            _PATH,
            anthropic.AnthropicError,
        )

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of one message, as `create()` would send it."""
        body: dict[str, Any] = {
            "max_tokens": request.max_output_tokens,
            "messages": [{"role": "user", "content": _user_content(request)}],
            "model": request.model_id,
            "temperature": request.temperature,
        }
        if request.system:
            body["system"] = request.system
        if request.response_schema is not None:
            body.update(anthropic_tool_fields(request.response_schema))
        return body

    def read(self, request: ChatRequest, data: Any) -> Completion:
        try:
            text = _answer_text(request, data["content"])
            usage = data["usage"]
            # Anthropic reports cache reads and writes beside `input_tokens`; ours holds
            # all input, with the cache classes as parts of it, priced apart.
            cache_read_tokens = usage.get("cache_read_input_tokens") or 0
            cache_write_tokens = usage.get("cache_creation_input_tokens") or 0
            creation = usage.get("cache_creation") or {}
            cache_write_1h_tokens = creation.get("ephemeral_1h_input_tokens") or 0
            input_tokens = usage["input_tokens"] + cache_read_tokens + cache_write_tokens
            output_tokens = usage["output_tokens"]
            stop_reason = data.get("stop_reason")
            model = data.get("model")
        except (AttributeError, KeyError, TypeError):
            raise MalformedResponse(
                "answer without content or usage", model=request.model_id, provider=self.provider
            ) from None
        counts = (input_tokens, output_tokens, cache_read_tokens, cache_write_1h_tokens)
        if not all(isinstance(count, int) for count in counts):
            raise MalformedResponse(
                "answer with unreadable usage", model=request.model_id, provider=self.provider
            )
        if stop_reason == "refusal":
            raise ContentPolicyViolation(
                "the model refused the content", model=request.model_id, provider=self.provider
            )
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_version=str(model or request.model_id),
            finish_reason=stop_reason if isinstance(stop_reason, str) else None,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_write_1h_tokens=min(cache_write_1h_tokens, cache_write_tokens),
        )


def _answer_text(request: ChatRequest, content: list[dict[str, Any]]) -> str:
    """The text blocks, or for a structured answer the forced tool call's input as JSON."""
    if request.response_schema is None:
        return "".join(block["text"] for block in content if block.get("type") == "text")
    for block in content:
        if block.get("type") == "tool_use" and block.get("name") == ANSWER_TOOL:
            return tool_input_text(block["input"])
    return ""


def _user_content(request: ChatRequest) -> str | list[dict[str, Any]]:
    """The user turn: plain text, or, when its static prefix is long enough to be cached,
    that prefix as a block ending in a `cache_control` breakpoint, then the request."""
    prefix_chars = request.cache_prefix_chars
    if request.cache_ttl is None or prefix_chars <= 0:
        return request.user
    prefix = request.user[:prefix_chars]
    cacheable = estimate_tokens((request.system or "") + prefix)
    if cacheable < anthropic_min_cacheable_tokens(request.model_id):
        return request.user
    control: dict[str, str] = {"type": "ephemeral"}
    if request.cache_ttl == "1h":
        control["ttl"] = "1h"
    blocks: list[dict[str, Any]] = [{"type": "text", "text": prefix, "cache_control": control}]
    rest = request.user[prefix_chars:]
    if rest:
        blocks.append({"type": "text", "text": rest})
    return blocks

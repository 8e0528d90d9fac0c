"""OpenAI and OpenAI-compatible servers (vLLM, Gemini's and Mistral's endpoints) through
`openai.AsyncOpenAI`, with the SDK's own retries off.

The SDK is imported when the first client is built, so a worker whose config has no
OpenAI-protocol model never loads it. Each call is the request the SDK client itself
builds (router/providers/call.py): same URL, auth, headers and error classes as
`chat.completions.create`, without its per-call transform and response model.
"""

from __future__ import annotations

from typing import Any

from llmrouter.core.errors import ContentPolicyViolation, MalformedResponse
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.call import SdkProvider
from llmrouter.router.providers.structured import openai_response_format
from llmrouter.router.providers.usage import estimate_tokens

__all__ = ["OpenAIProvider"]

_PATH = "/chat/completions"


class OpenAIProvider(SdkProvider):
    def __init__(self, *, provider: str, api_key: str, base_url: str | None) -> None:
        import openai  # here, not at module level: only a worker that uses it pays for it

        super().__init__(
            provider,
            openai,
            lambda http: openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, max_retries=0, http_client=http
            ),
            _PATH,
            openai.OpenAIError,
        )
        # Current OpenAI models take max_completion_tokens; compatible servers max_tokens.
        self._max_tokens_key = "max_completion_tokens" if provider == "openai" else "max_tokens"

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of one chat completion, as `create()` would send it."""
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.user})
        body: dict[str, Any] = {
            "messages": messages,
            "model": request.model_id,
            self._max_tokens_key: request.max_output_tokens,
            "temperature": request.temperature,
        }
        if request.response_schema is not None:
            body["response_format"] = openai_response_format(request.response_schema)
        elif request.json_mode and self.provider == "openai":
            body["response_format"] = {"type": "json_object"}
        return body

    def read(self, request: ChatRequest, data: Any) -> Completion:
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            finish = choice.get("finish_reason")
            usage = data.get("usage")
            prompt_tokens = usage.get("prompt_tokens") if usage is not None else None
            completion_tokens = usage.get("completion_tokens") if usage is not None else None
            model = data.get("model")
            cached_tokens = _detail(usage, "prompt_tokens_details", "cached_tokens")
            reasoning_tokens = _detail(usage, "completion_tokens_details", "reasoning_tokens")
        except (AttributeError, IndexError, KeyError, TypeError):
            raise MalformedResponse(
                "answer without choices", model=request.model_id, provider=self.provider
            ) from None
        if not isinstance(text, str):
            raise MalformedResponse(
                "answer content is not text", model=request.model_id, provider=self.provider
            )
        if finish == "content_filter":
            raise ContentPolicyViolation(
                "the provider's content filter stopped the answer",
                model=request.model_id,
                provider=self.provider,
            )
        if isinstance(prompt_tokens, int):
            input_tokens = prompt_tokens
            output_tokens = completion_tokens if isinstance(completion_tokens, int) else 0
        else:  # some compatible servers omit usage; an estimate beats a zero cost
            input_tokens = estimate_tokens((request.system or "") + request.user)
            output_tokens = estimate_tokens(text)
            cached_tokens = reasoning_tokens = 0
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_version=str(model or request.model_id),
            finish_reason=finish if isinstance(finish, str) else None,
            # parts of the totals: a server reporting more than the total is not believed
            cache_read_tokens=min(cached_tokens, input_tokens),
            reasoning_tokens=min(reasoning_tokens, output_tokens),
        )


def _detail(usage: Any, details: str, name: str) -> int:
    """A count inside `usage.<details>.<name>`, 0 where the server does not report it
    (OpenAI does; many compatible servers send no details or null)."""
    if not isinstance(usage, dict):
        return 0
    part = usage.get(details)
    value = part.get(name) if isinstance(part, dict) else None
    return value if isinstance(value, int) and value > 0 else 0

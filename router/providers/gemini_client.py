"""Gemini through Google's `google-genai` SDK: the Gemini API (an API key) and Vertex AI
(`vertexai=True` with a project and a location; Google credentials).

The SDK is imported when the first client is built, so a worker without a Gemini model
never loads it. Usage is read by class: `prompt_token_count` holds all input, with
`cached_content_token_count` (implicit or explicit context caching) a part of it; output
is `candidates_token_count` plus `thoughts_token_count` (a thinking model's reasoning,
billed as output). A prompt blocked (`prompt_feedback.block_reason`) or an answer stopped
for safety (`finish_reason` SAFETY and its kin) is a `ContentPolicyViolation`. The SDK's
own retries are off: ours are the only retry layer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmrouter.core.errors import ContentPolicyViolation, MalformedResponse, ProviderTimeout
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.call import TRANSPORT_ERRORS
from llmrouter.router.providers.errors import translate_sdk_error

__all__ = ["BLOCKING_FINISH_REASONS", "GeminiProvider"]

#: finish reasons of an answer the provider stopped for its content
BLOCKING_FINISH_REASONS = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "RECITATION"}
)


class GeminiProvider:
    """One `google.genai.Client`: `provider` is `gemini` (the Gemini API, `api_key`) or
    `vertex-gemini` (Vertex AI: `project`, `location` and `credentials`, None for ADC)."""

    def __init__(
        self,
        *,
        provider: str,
        api_key: str | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: Any | None = None,
        base_url: str | None = None,
    ) -> None:
        import google.auth.exceptions
        from google import genai
        from google.genai import errors, types

        self.provider = provider
        self._types = types
        options = types.HttpOptions(
            base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1)
        )
        if provider == "vertex-gemini":
            self._client = genai.Client(
                vertexai=True,
                project=project,
                location=location,
                credentials=credentials,
                http_options=options,
            )
        else:
            self._client = genai.Client(api_key=api_key, http_options=options)
        self._errors: tuple[type[BaseException], ...] = (
            errors.APIError,
            errors.UnknownApiResponseError,
            google.auth.exceptions.GoogleAuthError,
            *TRANSPORT_ERRORS,
        )

    def config(self, request: ChatRequest) -> Any:
        """The call's GenerateContentConfig: limits, and the answer's schema if it has one."""
        types = self._types
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_output_tokens,
            temperature=request.temperature,
        )
        if request.response_schema is not None:
            config.response_mime_type = "application/json"
            config.response_json_schema = dict(request.response_schema)
        elif request.json_mode:
            config.response_mime_type = "application/json"
        return config

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            async with asyncio.timeout(request.timeout_s):
                response = await self._client.aio.models.generate_content(
                    model=request.model_id, contents=request.user, config=self.config(request)
                )
        except TimeoutError:
            raise ProviderTimeout(
                f"no answer within {request.timeout_s}s",
                model=request.model_id,
                provider=self.provider,
            ) from None
        except self._errors as exc:
            raise translate_sdk_error(exc, model=request.model_id, provider=self.provider) from None
        return self.read(request, response)

    def read(self, request: ChatRequest, response: Any) -> Completion:
        """The completion in a GenerateContentResponse."""
        where: dict[str, Any] = {"model": request.model_id, "provider": self.provider}
        feedback = getattr(response, "prompt_feedback", None)
        blocked = getattr(feedback, "block_reason", None)
        if blocked is not None:
            raise ContentPolicyViolation(f"the prompt was blocked ({_name(blocked)})", **where)
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            raise MalformedResponse("answer without candidates", **where)
        candidate = candidates[0]
        finish = _name(getattr(candidate, "finish_reason", None))
        if finish in BLOCKING_FINISH_REASONS:
            raise ContentPolicyViolation(f"the answer was stopped ({finish})", **where)
        parts = getattr(getattr(candidate, "content", None), "parts", None) or []
        text = "".join(p.text for p in parts if isinstance(p.text, str) and not p.thought)
        usage = getattr(response, "usage_metadata", None)
        if usage is None:
            raise MalformedResponse("answer without usage", **where)
        prompt_tokens = usage.prompt_token_count or 0
        tool_prompt_tokens = usage.tool_use_prompt_token_count or 0
        cached_tokens = usage.cached_content_token_count or 0
        thoughts_tokens = usage.thoughts_token_count or 0
        output_tokens = (usage.candidates_token_count or 0) + thoughts_tokens
        input_tokens = prompt_tokens + tool_prompt_tokens
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_version=str(getattr(response, "model_version", None) or request.model_id),
            finish_reason=finish,
            cache_read_tokens=min(cached_tokens, input_tokens),
            reasoning_tokens=thoughts_tokens,
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()


def _name(value: Any) -> str | None:
    """An SDK enum's name (`FinishReason.SAFETY` → "SAFETY"), a string as it is."""
    if value is None:
        return None
    return str(getattr(value, "value", value))

"""OpenAI and OpenAI-compatible servers (vLLM, Gemini's and Mistral's endpoints) through
`openai.AsyncOpenAI`, with the SDK's own retries off."""

from __future__ import annotations

import asyncio
from typing import Any

import openai

from llmrouter.core.errors import (
    ContentPolicyViolation,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
)
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.errors import SDK_ERRORS, translate_sdk_error
from llmrouter.router.providers.transport import aiohttp_client
from llmrouter.router.providers.usage import estimate_tokens

__all__ = ["OpenAIProvider"]


class OpenAIProvider:
    def __init__(self, *, provider: str, api_key: str, base_url: str | None) -> None:
        self.provider = provider
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, http_client=aiohttp_client(openai)
        )

    async def complete(self, request: ChatRequest) -> Completion:
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.user})
        extra: dict[str, Any] = {}
        if self.provider == "openai":
            # Current OpenAI models take max_completion_tokens; compatible servers max_tokens.
            extra["max_completion_tokens"] = request.max_output_tokens
            if request.json_mode:
                extra["response_format"] = {"type": "json_object"}
        else:
            extra["max_tokens"] = request.max_output_tokens
        try:
            # asyncio.timeout bounds the whole call; the SDK's timeout only bounds each phase.
            async with asyncio.timeout(request.timeout_s):
                response = await self._client.chat.completions.create(
                    model=request.model_id,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=request.temperature,
                    timeout=request.timeout_s,
                    **extra,
                )
        except TimeoutError:
            raise ProviderTimeout(
                f"no answer within {request.timeout_s}s",
                model=request.model_id,
                provider=self.provider,
            ) from None
        except ProviderError:
            raise
        except SDK_ERRORS as exc:  # every SDK and transport error is translated here
            raise translate_sdk_error(exc, model=request.model_id, provider=self.provider) from None
        return self._read(request, response)

    def _read(self, request: ChatRequest, response: Any) -> Completion:
        try:
            choice = response.choices[0]
            text = choice.message.content or ""
            finish = choice.finish_reason
        except (AttributeError, IndexError, TypeError):
            raise MalformedResponse(
                "answer without choices", model=request.model_id, provider=self.provider
            ) from None
        if finish == "content_filter":
            raise ContentPolicyViolation(
                "the provider's content filter stopped the answer",
                model=request.model_id,
                provider=self.provider,
            )
        usage = getattr(response, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            input_tokens, output_tokens = usage.prompt_tokens, usage.completion_tokens or 0
        else:  # some compatible servers omit usage; an estimate beats a zero cost
            input_tokens = estimate_tokens((request.system or "") + request.user)
            output_tokens = estimate_tokens(text)
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_version=str(getattr(response, "model", None) or request.model_id),
            finish_reason=finish,
        )

    async def aclose(self) -> None:
        await self._client.close()

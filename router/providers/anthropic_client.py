"""Anthropic through `anthropic.AsyncAnthropic`, with the SDK's own retries off."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic

from llmrouter.core.errors import (
    ContentPolicyViolation,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
)
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.errors import SDK_ERRORS, translate_sdk_error
from llmrouter.router.providers.transport import aiohttp_client

__all__ = ["AnthropicProvider"]


class AnthropicProvider:
    provider = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, http_client=aiohttp_client(anthropic)
        )

    async def complete(self, request: ChatRequest) -> Completion:
        extra: dict[str, Any] = {}
        if request.system:
            extra["system"] = request.system
        try:
            async with asyncio.timeout(request.timeout_s):
                response = await self._client.messages.create(
                    model=request.model_id,
                    max_tokens=request.max_output_tokens,
                    messages=[{"role": "user", "content": request.user}],
                    # extra_body: newer SDKs dropped the typed argument; the API still takes it.
                    extra_body={"temperature": request.temperature},
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
            text = "".join(
                block.text for block in response.content if getattr(block, "type", None) == "text"
            )
            usage = response.usage
            # Prompt-cache reads and writes are input tokens too (billed; see README on costs).
            input_tokens = (
                usage.input_tokens
                + (getattr(usage, "cache_creation_input_tokens", None) or 0)
                + (getattr(usage, "cache_read_input_tokens", None) or 0)
            )
            output_tokens = usage.output_tokens
        except (AttributeError, TypeError):
            raise MalformedResponse(
                "answer without content or usage", model=request.model_id, provider=self.provider
            ) from None
        if response.stop_reason == "refusal":
            raise ContentPolicyViolation(
                "the model refused the content", model=request.model_id, provider=self.provider
            )
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_version=str(response.model or request.model_id),
            finish_reason=response.stop_reason,
        )

    async def aclose(self) -> None:
        await self._client.close()

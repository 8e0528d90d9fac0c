"""Any Bedrock model through the Converse API, with `aiobotocore` (botocore's SigV4
signing and credential chain, on aiohttp).

The SDK is imported when the first client is built. The client is opened on the first
call (it needs the running loop) with botocore's retries off (ours are the only retry
layer). Credentials come from botocore's standard chain: the environment, the shared
credentials and config files (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE), web identity
(AWS_WEB_IDENTITY_TOKEN_FILE, as EKS mounts it), container and instance roles.

Usage: Converse's `inputTokens` leaves out the prompt cache's part, reported as
`cacheReadInputTokens` and `cacheWriteInputTokens`; ours holds all input, with those as
parts of it. A `cachePoint` block after the prompt's static prefix asks for it to be
cached. An answer stopped by a content filter or a guardrail is a `ContentPolicyViolation`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmrouter.core.errors import ContentPolicyViolation, MalformedResponse, ProviderTimeout
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.call import TRANSPORT_ERRORS
from llmrouter.router.providers.errors import translate_sdk_error
from llmrouter.router.providers.structured import (
    ANSWER_TOOL,
    converse_tool_config,
    tool_input_text,
)
from llmrouter.router.providers.transport import POOL_SIZE
from llmrouter.router.providers.usage import anthropic_min_cacheable_tokens, estimate_tokens

__all__ = ["BedrockConverseProvider"]

#: stop reasons of an answer Bedrock withheld for its content
_BLOCKED = frozenset({"content_filtered", "guardrail_intervened"})


class BedrockConverseProvider:
    provider = "bedrock"

    def __init__(
        self,
        *,
        region: str,
        base_url: str | None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """`credentials`: a static (access key id, secret) pair, for the simulator only;
        None: botocore's chain."""
        import aiobotocore.session
        import botocore.exceptions
        from aiobotocore.config import AioConfig

        self._session = aiobotocore.session.get_session()
        self._region = region
        self._base_url = base_url
        self._credentials = credentials
        self._config = AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=POOL_SIZE)
        self._context: Any = None
        self._client: Any = None
        self._opening = asyncio.Lock()
        self._errors: tuple[type[BaseException], ...] = (
            botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError,
            *TRANSPORT_ERRORS,
        )

    async def _open(self) -> Any:
        async with self._opening:
            if self._client is None:
                keys: dict[str, str] = {}
                if self._credentials is not None:
                    keys = {
                        "aws_access_key_id": self._credentials[0],
                        "aws_secret_access_key": self._credentials[1],
                    }
                self._context = self._session.create_client(
                    "bedrock-runtime",
                    region_name=self._region,
                    endpoint_url=self._base_url,
                    config=self._config,
                    **keys,
                )
                self._client = await self._context.__aenter__()
        return self._client

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments of `converse`."""
        body: dict[str, Any] = {
            "modelId": request.model_id,
            "messages": [{"role": "user", "content": _user_content(request)}],
            "inferenceConfig": {
                "maxTokens": request.max_output_tokens,
                "temperature": request.temperature,
            },
        }
        if request.system:
            body["system"] = [{"text": request.system}]
        if request.response_schema is not None:
            body["toolConfig"] = converse_tool_config(request.response_schema)
        return body

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            async with asyncio.timeout(request.timeout_s):
                client = self._client or await self._open()
                data = await client.converse(**self.body(request))
        except TimeoutError:
            raise ProviderTimeout(
                f"no answer within {request.timeout_s}s",
                model=request.model_id,
                provider=self.provider,
            ) from None
        except self._errors as exc:
            raise translate_sdk_error(exc, model=request.model_id, provider=self.provider) from None
        return self.read(request, data)

    def read(self, request: ChatRequest, data: Any) -> Completion:
        where: dict[str, Any] = {"model": request.model_id, "provider": self.provider}
        try:
            stop = data.get("stopReason")
            if stop in _BLOCKED:
                raise ContentPolicyViolation(f"the answer was withheld ({stop})", **where)
            blocks = data["output"]["message"]["content"]
            usage = data["usage"]
            cache_read = usage.get("cacheReadInputTokens") or 0
            cache_write = usage.get("cacheWriteInputTokens") or 0
            input_tokens = usage["inputTokens"] + cache_read + cache_write
            output_tokens = usage["outputTokens"]
            if request.response_schema is not None:
                uses = [b["toolUse"] for b in blocks if "toolUse" in b]
                answer = next((u for u in uses if u.get("name") == ANSWER_TOOL), None)
                text = tool_input_text(answer["input"]) if answer is not None else ""
            else:
                text = "".join(b["text"] for b in blocks if "text" in b)
        except (AttributeError, KeyError, TypeError):
            raise MalformedResponse("answer without content or usage", **where) from None
        if not all(isinstance(n, int) for n in (input_tokens, output_tokens, cache_read)):
            raise MalformedResponse("answer with unreadable usage", **where)
        return Completion(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model_version=request.model_id,
            finish_reason=stop if isinstance(stop, str) else None,
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        )

    async def aclose(self) -> None:
        context, self._context, self._client = self._context, None, None
        if context is not None:
            await context.__aexit__(None, None, None)


def _user_content(request: ChatRequest) -> list[dict[str, Any]]:
    """The user turn: its text, or, when its static prefix is long enough to be cached,
    that prefix, a cache point, then the request."""
    prefix_chars = request.cache_prefix_chars
    if request.cache_ttl is None or prefix_chars <= 0:
        return [{"text": request.user}]
    prefix = request.user[:prefix_chars]
    if estimate_tokens((request.system or "") + prefix) < anthropic_min_cacheable_tokens(
        request.model_id
    ):
        return [{"text": request.user}]
    blocks: list[dict[str, Any]] = [{"text": prefix}, {"cachePoint": {"type": "default"}}]
    rest = request.user[prefix_chars:]
    if rest:
        blocks.append({"text": rest})
    return blocks

"""The batch API client of a catalog model: an SDK client of its own (the realtime
client's replays the first request it sees), with the same base URL and key as the
model's realtime calls, by its provider."""

from __future__ import annotations

from llmrouter.core.errors import ConfigError
from llmrouter.router import RoutingEngine
from llmrouter.router.providers.batch_anthropic import AnthropicBatchClient
from llmrouter.router.providers.batch_base import BatchClient
from llmrouter.router.providers.batch_openai import OpenAIBatchClient

__all__ = ["batch_client"]

#: the SDK's own retries: a batch call is rare and idempotent where it matters (find first)
_SDK_RETRIES = 2


def batch_client(router: RoutingEngine, model: str) -> BatchClient:
    spec = router.config.models[model]
    pool = router.pool
    base_url = pool._base_url(spec)
    key = pool._api_key(model, spec)
    if spec.provider.value == "anthropic":
        import anthropic

        sdk = anthropic.AsyncAnthropic(api_key=key, base_url=base_url, max_retries=_SDK_RETRIES)
        return AnthropicBatchClient(sdk, model=spec.model_id)
    if spec.provider.value == "openai":
        import openai

        client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=_SDK_RETRIES)
        return OpenAIBatchClient(client, model=spec.model_id)
    raise ConfigError(f"model {model!r}: provider {spec.provider.value} has no batch API")

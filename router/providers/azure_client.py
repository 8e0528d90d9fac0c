"""Azure OpenAI through the openai SDK's `AsyncAzureOpenAI`: one client per deployment,
which builds the Azure URL (`{endpoint}/openai/deployments/{deployment}/chat/completions
?api-version=...`) and the `api-key` header. Bodies, answers and errors are OpenAI's, so
everything but the client is the OpenAI provider's."""

from __future__ import annotations

import os
from typing import Any

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import ModelSpec
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.call import SdkProvider
from llmrouter.router.providers.openai_client import OpenAIProvider

__all__ = ["ENDPOINT_ENV", "AzureOpenAIProvider", "azure_provider", "deployment_url"]

#: where the SDK looks for the resource endpoint when a model sets none
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"

#: the path under the deployment's base URL, as the SDK's chat.completions.create posts it
_PATH = "/chat/completions"
#: API versions from this one on take max_completion_tokens (older ones only max_tokens)
_COMPLETION_TOKENS_SINCE = "2024-09-01"


class AzureOpenAIProvider(OpenAIProvider):
    def __init__(
        self, *, api_key: str, endpoint: str | None, deployment: str, api_version: str
    ) -> None:
        import openai  # here, not at module level: only a worker that uses it pays for it

        self.deployment = deployment
        resource = endpoint or os.environ.get(ENDPOINT_ENV)
        if not resource:
            raise ConfigError(
                f"azure-openai deployment {deployment!r}: no endpoint; set the model's "
                f"`endpoint` or {ENDPOINT_ENV}"
            )

        def make_client(http: Any) -> Any:
            return openai.AsyncAzureOpenAI(
                api_key=api_key,
                azure_endpoint=resource,
                azure_deployment=deployment,
                api_version=api_version,
                max_retries=0,
                http_client=http,
            )

        # Not OpenAIProvider's __init__: the client and its path are Azure's own.
        SdkProvider.__init__(self, "azure-openai", openai, make_client, _PATH, openai.OpenAIError)
        self._max_tokens_key = (
            "max_completion_tokens" if api_version >= _COMPLETION_TOKENS_SINCE else "max_tokens"
        )

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """OpenAI's body; Azure answers with the deployment's model whatever `model` says,
        and supports JSON mode like OpenAI."""
        body = super().body(request)
        if request.json_mode and "response_format" not in body:
            body["response_format"] = {"type": "json_object"}
        return body


def _endpoint(spec: ModelSpec, simulator_url: str | None) -> str | None:
    return simulator_url or spec.endpoint or os.environ.get(ENDPOINT_ENV) or None


def deployment_url(spec: ModelSpec, simulator_url: str | None = None) -> str:
    """The deployment's base URL as the SDK builds it (also the client pool's key)."""
    endpoint = (_endpoint(spec, simulator_url) or f"${ENDPOINT_ENV}").rstrip("/")
    return f"{endpoint}/openai/deployments/{spec.deployment or spec.model_id}"


def azure_provider(spec: ModelSpec, api_key: str, simulator_url: str | None) -> AzureOpenAIProvider:
    """The client of an `azure-openai` model; the simulator serves Azure's paths too."""
    assert spec.api_version is not None  # the config requires it for azure-openai
    return AzureOpenAIProvider(
        api_key=api_key,
        endpoint=_endpoint(spec, simulator_url),
        deployment=spec.deployment or spec.model_id,
        api_version=spec.api_version,
    )

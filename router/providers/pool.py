"""One provider client per (provider, base_url, key), created on first use and reused.

The SDKs of the catalog's providers are imported when the pool is made, not on a first
call: importing `openai` takes 0.5–1 s, and inside a call it would stop the process's
event loop with every other call in flight (and whatever the replica owes the fleet
meanwhile, such as a breaker's opening) the first time a route falls back to a provider
it had not used yet."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from llmrouter.core.errors import AuthenticationFailed
from llmrouter.router.config import ModelSpec, Provider
from llmrouter.router.providers.anthropic_client import AnthropicProvider
from llmrouter.router.providers.azure_client import azure_provider, deployment_url
from llmrouter.router.providers.base import ProviderClient
from llmrouter.router.providers.openai_client import OpenAIProvider
from llmrouter.router.secrets import read_api_key

__all__ = ["SIMULATOR_ENV", "ProviderPool"]

#: Points every model at the provider simulator (demo, tests, benchmarks).
SIMULATOR_ENV = "LLMROUTER_SIMULATOR_URL"

_DEFAULT_KEY_ENV = {
    Provider.OPENAI: "OPENAI_API_KEY",
    Provider.ANTHROPIC: "ANTHROPIC_API_KEY",
    Provider.OPENAI_COMPATIBLE: None,
    Provider.AZURE_OPENAI: "AZURE_OPENAI_API_KEY",
}


#: the SDK each provider's client is built with
_SDK = {
    Provider.OPENAI: "openai",
    Provider.OPENAI_COMPATIBLE: "openai",
    Provider.AZURE_OPENAI: "openai",
    Provider.ANTHROPIC: "anthropic",
}


class ProviderPool:
    def __init__(
        self, models: Mapping[str, ModelSpec], *, simulator_url: str | None = None
    ) -> None:
        for sdk in sorted({_SDK[spec.provider] for spec in models.values()}):
            importlib.import_module(sdk)  # only the providers in use: a light install stays so
        self._models = models
        self._simulator_url = (simulator_url or os.environ.get(SIMULATOR_ENV) or "").rstrip("/")
        self._clients: dict[tuple[str, str | None, str], ProviderClient] = {}
        # Resolving a model's key reads the environment; once per model is enough.
        self._by_model: dict[str, ProviderClient] = {}

    @property
    def simulated(self) -> bool:
        return bool(self._simulator_url)

    def client_for(self, model_name: str) -> ProviderClient:
        cached = self._by_model.get(model_name)
        if cached is not None:
            return cached
        spec = self._models[model_name]
        base_url = self._base_url(spec)
        key = self._api_key(model_name, spec)
        pool_key = (spec.provider.value, base_url, key)
        client = self._clients.get(pool_key)
        if client is None:
            if spec.provider is Provider.ANTHROPIC:
                client = AnthropicProvider(api_key=key, base_url=base_url)
            elif spec.provider is Provider.AZURE_OPENAI:
                client = azure_provider(spec, key, self._simulator_url or None)
            else:
                client = OpenAIProvider(
                    provider=spec.provider.value, api_key=key, base_url=base_url
                )
            self._clients[pool_key] = client
        self._by_model[model_name] = client
        return client

    def _base_url(self, spec: ModelSpec) -> str | None:
        if spec.provider is Provider.AZURE_OPENAI:  # one client per deployment
            return deployment_url(spec, self._simulator_url or None)
        if self._simulator_url:
            return (
                self._simulator_url
                if spec.provider is Provider.ANTHROPIC
                else f"{self._simulator_url}/v1"
            )
        # None lets each SDK apply its own OPENAI_BASE_URL / ANTHROPIC_BASE_URL.
        return spec.base_url

    def _api_key(self, model_name: str, spec: ModelSpec) -> str:
        env = spec.api_key_env or _DEFAULT_KEY_ENV[spec.provider]
        key = read_api_key(env, spec.api_key_file)
        if key:
            return key
        if self._simulator_url:
            return "sk-sim-key"
        if spec.provider is Provider.OPENAI_COMPATIBLE:
            return "not-needed"  # self-hosted servers often take no key; the SDK needs one
        where = f"file {spec.api_key_file}" if spec.api_key_file else f"environment variable {env}"
        raise AuthenticationFailed(
            f"no API key: set {where}", model=model_name, provider=spec.provider.value
        )

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        self._by_model = {}
        for client in clients:
            await client.aclose()

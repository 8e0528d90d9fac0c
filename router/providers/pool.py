"""One provider client per (provider, base_url, key), created on first use and reused.

The SDKs of the catalog's providers are imported when the pool is made, not on a first
call: importing `openai` takes 0.5–1 s, and inside a call it would stop the process's
event loop with every other call in flight (and whatever the replica owes the fleet
meanwhile, such as a breaker's opening) the first time a route falls back to a provider
it had not used yet. A provider whose SDK is missing is a config error at start-up naming
the `llmrouter[...]` extra that installs it.

The cloud platforms take no API key: Bedrock models authenticate through botocore's
credential chain, Vertex AI models through Google's (router/providers/anthropic_cloud.py,
bedrock_client.py, google_credentials.py); against the simulator, static stand-ins are used
when the environment holds no AWS credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping

from llmrouter.core.errors import AuthenticationFailed, ConfigError, MissingDependency
from llmrouter.core.optional import require
from llmrouter.router.config import ModelSpec, Provider
from llmrouter.router.config_catalog import AWS_PROVIDERS, VERTEX_PROVIDERS
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
    Provider.GEMINI: "GEMINI_API_KEY",
}
#: the environment that makes botocore's chain find credentials against the simulator
_AWS_CHAIN_ENV = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK")
#: the stand-in AWS credentials signed with against the simulator
SIMULATOR_AWS_KEYS = ("sim-access-key", "sim-secret-key")


#: the modules each provider's client is built with, and the extra that installs them
_SDK: Mapping[Provider, tuple[tuple[str, ...], str]] = {
    Provider.OPENAI: (("openai",), "worker"),
    Provider.OPENAI_COMPATIBLE: (("openai",), "worker"),
    Provider.AZURE_OPENAI: (("openai",), "worker"),
    Provider.ANTHROPIC: (("anthropic",), "worker"),
    Provider.GEMINI: (("google.genai", "google.auth"), "gemini"),
    Provider.VERTEX_GEMINI: (("google.genai", "google.auth"), "gemini"),
    Provider.BEDROCK_ANTHROPIC: (("anthropic", "boto3", "botocore"), "bedrock"),
    Provider.VERTEX_ANTHROPIC: (("anthropic", "google.auth.transport.requests"), "vertex"),
    Provider.BEDROCK: (("aiobotocore", "botocore"), "bedrock"),
}


def _import_sdks(models: Mapping[str, ModelSpec]) -> None:
    """Import the SDKs of the providers in use (only those: a light install stays so);
    a missing one is a config error naming the model and the extra."""
    done: set[Provider] = set()
    for name, spec in models.items():
        if spec.provider in done:
            continue
        modules, extra = _SDK[spec.provider]
        purpose = f"provider {spec.provider.value}"
        try:
            for module in modules:
                require(module, extra=extra, purpose=purpose)
        except MissingDependency as exc:
            raise ConfigError(str(exc), key=f"models.{name}.provider") from None
        done.add(spec.provider)


class ProviderPool:
    def __init__(
        self, models: Mapping[str, ModelSpec], *, simulator_url: str | None = None
    ) -> None:
        _import_sdks(models)
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
        cloud = spec.provider in AWS_PROVIDERS | VERTEX_PROVIDERS
        # a cloud platform's client is per region (and project, and credentials file)
        key = (
            f"{spec.region}/{spec.project}/{spec.credentials_file}"
            if cloud
            else self._api_key(model_name, spec)
        )
        pool_key = (spec.provider.value, base_url, key)
        client = self._clients.get(pool_key)
        if client is None:
            if cloud or spec.provider is Provider.GEMINI:
                client = self._cloud_client(spec, base_url, key)
            elif spec.provider is Provider.ANTHROPIC:
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

    def _cloud_client(self, spec: ModelSpec, base_url: str | None, key: str) -> ProviderClient:
        """The client of a Gemini, Bedrock or Vertex AI model (each SDK imported here)."""
        simulated = bool(self._simulator_url)
        provider = spec.provider
        if provider is Provider.GEMINI:
            from llmrouter.router.providers.gemini_client import GeminiProvider

            return GeminiProvider(provider=provider.value, api_key=key, base_url=base_url)
        assert spec.region is not None  # the config requires it for every cloud provider
        if provider is Provider.VERTEX_GEMINI:
            from llmrouter.router.providers.gemini_client import GeminiProvider
            from llmrouter.router.providers.google_credentials import google_credentials

            return GeminiProvider(
                provider=provider.value,
                project=spec.project,
                location=spec.region,
                credentials=google_credentials(spec.credentials_file, simulated=simulated),
                base_url=base_url,
            )
        if provider is Provider.VERTEX_ANTHROPIC:
            from llmrouter.router.providers.anthropic_cloud import AnthropicVertexProvider

            assert spec.project is not None  # required for vertex-anthropic
            return AnthropicVertexProvider(
                region=spec.region,
                project=spec.project,
                base_url=base_url,
                credentials_file=spec.credentials_file,
                simulated=simulated,
            )
        static = self._simulator_aws_keys()
        if provider is Provider.BEDROCK_ANTHROPIC:
            from llmrouter.router.providers.anthropic_cloud import AnthropicBedrockProvider

            return AnthropicBedrockProvider(
                region=spec.region, base_url=base_url, credentials=static
            )
        from llmrouter.router.providers.bedrock_client import BedrockConverseProvider

        return BedrockConverseProvider(region=spec.region, base_url=base_url, credentials=static)

    def _simulator_aws_keys(self) -> tuple[str, str] | None:
        """Stand-in AWS keys against the simulator when the environment names none."""
        if self._simulator_url and not any(os.environ.get(v) for v in _AWS_CHAIN_ENV):
            return SIMULATOR_AWS_KEYS
        return None

    def _base_url(self, spec: ModelSpec) -> str | None:
        if spec.provider is Provider.AZURE_OPENAI:  # one client per deployment
            return deployment_url(spec, self._simulator_url or None)
        if self._simulator_url:
            # Anthropic's, Gemini's and Bedrock's SDKs add their own version to the path;
            # Vertex AI's Anthropic client takes it in its base URL
            own_version = {
                Provider.ANTHROPIC,
                Provider.GEMINI,
                Provider.VERTEX_GEMINI,
                Provider.BEDROCK,
                Provider.BEDROCK_ANTHROPIC,
            }
            return (
                self._simulator_url if spec.provider in own_version else f"{self._simulator_url}/v1"
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

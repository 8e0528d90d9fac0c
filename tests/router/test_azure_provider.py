"""Azure OpenAI through the real openai SDK's AsyncAzureOpenAI, over HTTP to the
simulator's Azure route (deployment path, api-version query, api-key header)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from llmrouter.core.errors import AuthenticationFailed, ConfigError
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.azure_client import AzureOpenAIProvider, deployment_url
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.simulator import SimConfig, running

CONFIG = """\
version: 1
models:
  gpt-4o-azure:
    provider: azure-openai
    model_id: gpt-4o-2024-08-06
    deployment: gpt4o-prod
    api_version: "2024-10-21"
    endpoint: https://example-resource.openai.azure.com
    input_usd_per_1k: 0.0025
    output_usd_per_1k: 0.01
tasks:
  qa:
    route: {strategy: static, model: gpt-4o-azure}
"""


@pytest.fixture
async def sim() -> AsyncIterator[str]:
    async with running(SimConfig(latency_ms=0), port=0) as url:
        yield url


def _request(**overrides: object) -> ChatRequest:
    base: dict[str, object] = {
        "model_id": "gpt-4o-2024-08-06",
        "system": "You answer briefly.",
        "user": "What is the capital of France?",
        "max_output_tokens": 64,
        "temperature": 0.0,
        "timeout_s": 10.0,
    }
    base.update(overrides)
    return ChatRequest(**base)  # type: ignore[arg-type]


async def test_the_pool_calls_an_azure_deployment_on_the_simulator(sim: str) -> None:
    config = parse_config(CONFIG)
    pool = ProviderPool(config.models, simulator_url=sim)
    try:
        client = pool.client_for("gpt-4o-azure")
        assert isinstance(client, AzureOpenAIProvider)
        assert client.provider == "azure-openai"
        assert client.deployment == "gpt4o-prod"
        # the first call goes through the SDK, the second through the fast path
        for _ in range(2):
            done = await client.complete(_request(json_mode=True))
            assert done.text
            assert done.input_tokens > 0
            assert done.output_tokens > 0
        assert pool.client_for("gpt-4o-azure") is client
    finally:
        await pool.aclose()
    async with aiohttp.ClientSession() as http, http.get(f"{sim}/_sim/stats") as response:
        stats = await response.json()
    assert "gpt-4o-2024-08-06" in str(stats)


async def test_the_sdk_itself_reaches_the_simulators_azure_route(sim: str) -> None:
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=sim,
        azure_deployment="my-deployment",
        api_version="2024-10-21",
        api_key="azure-key",
        max_retries=0,
    )
    try:
        answer = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello."}]
        )
    finally:
        await client.close()
    assert answer.choices[0].message.content
    assert answer.model == "gpt-4o-mini"


async def test_the_simulator_checks_azure_path_rules(sim: str) -> None:
    url = f"{sim}/openai/deployments/dep/chat/completions"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers={"api-key": "k"}) as response:
            assert response.status == 404  # no api-version
        async with http.post(f"{url}?api-version=2024-10-21", json=body) as response:
            assert response.status == 401  # no api-key
        async with http.post(
            f"{url}?api-version=2024-10-21", json=body, headers={"api-key": "k"}
        ) as response:
            assert response.status == 200
            data = await response.json()
    assert data["model"] == "dep"  # no model in the body: the deployment's


async def test_a_rejected_key_is_an_auth_error(sim: str) -> None:
    client = AzureOpenAIProvider(
        api_key="sk-sim-invalid", endpoint=sim, deployment="dep", api_version="2024-10-21"
    )
    try:
        with pytest.raises(AuthenticationFailed):
            await client.complete(_request())
    finally:
        await client.aclose()


def test_no_endpoint_anywhere_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    with pytest.raises(ConfigError, match="deployment 'dep'"):
        AzureOpenAIProvider(api_key="k", endpoint=None, deployment="dep", api_version="2024-10-21")


def test_config_rules() -> None:
    spec = parse_config(CONFIG).models["gpt-4o-azure"]
    assert deployment_url(spec) == (
        "https://example-resource.openai.azure.com/openai/deployments/gpt4o-prod"
    )
    with pytest.raises(ConfigError, match="api_version"):
        parse_config(CONFIG.replace('    api_version: "2024-10-21"\n', ""))
    with pytest.raises(ConfigError, match="deployment is only for provider azure-openai"):
        parse_config(CONFIG.replace("provider: azure-openai", "provider: openai"))
    with pytest.raises(ConfigError, match="endpoint must start with http"):
        parse_config(CONFIG.replace("https://example-resource", "example-resource"))

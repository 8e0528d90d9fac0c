"""The catalog's cloud entries: a region (and for Vertex AI a project) where the provider
needs one and nowhere else, a missing SDK named by its extra at start-up, and a mounted
Google credentials file read through google-auth's own refresh."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import ModelSpec
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.pool import ProviderPool
from tests.factories import routing_config, static_route
from tests.router.providers.cloud import CLOUD_MODELS


def _config(**entry: Any) -> str:
    return routing_config(models={"m": entry}, tasks={"qa": static_route("m")})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"provider": "bedrock", "model_id": "amazon.nova-lite-v1:0"},
            "provider bedrock needs region",
        ),
        (
            {
                "provider": "bedrock-anthropic",
                "model_id": "anthropic.claude-3-5-haiku-20241022-v1:0",
            },
            "provider bedrock-anthropic needs region",
        ),
        (
            {"provider": "vertex-gemini", "model_id": "gemini-2.0-flash", "region": "us-central1"},
            "provider vertex-gemini needs project",
        ),
        (
            {"provider": "openai", "model_id": "gpt-4o-mini", "region": "us-east-1"},
            "region is only for providers",
        ),
        (
            {
                "provider": "bedrock",
                "model_id": "amazon.nova-lite-v1:0",
                "region": "us-east-1",
                "credentials_file": "/run/secrets/google.json",
            },
            "credentials_file is only for providers vertex-anthropic, vertex-gemini",
        ),
    ],
)
def test_cloud_fields_are_validated(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_config(**entry))
    assert message in str(caught.value)
    assert caught.value.key is not None
    assert caught.value.key.startswith("models.m")


def test_every_cloud_entry_loads() -> None:
    config = parse_config(
        routing_config(models=CLOUD_MODELS, tasks={"qa": static_route("gemini-flash")})
    )
    assert {spec.provider.value for spec in config.models.values()} == {
        "gemini",
        "vertex-gemini",
        "bedrock-anthropic",
        "vertex-anthropic",
        "bedrock",
    }
    # priced by genai-prices from the provider's own price list
    assert all(spec.input_usd_per_1k > 0 for spec in config.models.values())


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [
        ("nova-lite", "aiobotocore", "bedrock"),
        ("gemini-flash", "google.genai", "gemini"),
        ("vertex-haiku", "google.auth.transport.requests", "vertex"),
    ],
)
def test_a_missing_sdk_is_a_config_error_naming_its_extra(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package does
    spec = ModelSpec.model_validate(CLOUD_MODELS[name])
    with pytest.raises(ConfigError) as caught:
        ProviderPool({name: spec})
    assert f"llmrouter[{extra}]" in str(caught.value)
    assert caught.value.key == f"models.{name}.provider"


async def test_a_mounted_credentials_file_is_refreshed_through_google_auth(
    sim_url: str, tmp_path: Path
) -> None:
    """A service-account file whose token endpoint is the simulator's: the Anthropic Vertex
    client has google-auth sign a JWT with its key and trade it for a token, and the call
    carries that token (the simulator refuses a call without one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    credentials = tmp_path / "google.json"
    credentials.write_bytes(
        orjson.dumps(
            {
                "type": "service_account",
                "project_id": "test-project",
                "private_key_id": "key-1",
                "private_key": pem,
                "client_email": "router@test-project.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{sim_url}/token",
            }
        )
    )
    spec = ModelSpec.model_validate(
        {**CLOUD_MODELS["vertex-haiku"], "credentials_file": str(credentials)}
    )
    pool = ProviderPool({"vertex-haiku": spec}, simulator_url=sim_url)
    request = ChatRequest(
        model_id=spec.model_id,
        system=None,
        user="hello",
        max_output_tokens=32,
        temperature=0.0,
        timeout_s=10.0,
    )
    try:
        client = pool.client_for("vertex-haiku")
        completion = await client.complete(request)
        token = client._endpoint.client.credentials.token  # type: ignore[attr-defined]
    finally:
        await pool.aclose()
    assert completion.text
    assert token.startswith("ya29.sim-")  # minted by the simulator's token endpoint


def test_a_bad_credentials_file_names_the_file_not_its_content(tmp_path: Path) -> None:
    credentials = tmp_path / "google.json"
    credentials.write_bytes(orjson.dumps({"type": "nonsense", "private_key": "SECRET-KEY"}))
    spec = ModelSpec.model_validate(
        {**CLOUD_MODELS["vertex-flash"], "credentials_file": str(credentials)}
    )
    pool = ProviderPool({"vertex-flash": spec}, simulator_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError) as caught:
        pool.client_for("vertex-flash")
    assert str(credentials) in str(caught.value)
    assert "SECRET-KEY" not in str(caught.value)

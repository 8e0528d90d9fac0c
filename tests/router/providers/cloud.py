"""The catalog entries of the cloud providers the tests route over: one model per new
provider, each a model id genai-prices prices (so no prices are configured)."""

from __future__ import annotations

from typing import Any, Final

#: catalog name → entry; every model id is answered by the simulator
CLOUD_MODELS: Final[dict[str, dict[str, Any]]] = {
    "gemini-flash": {"provider": "gemini", "model_id": "gemini-2.5-flash"},
    "vertex-flash": {
        "provider": "vertex-gemini",
        "model_id": "gemini-2.0-flash",
        "region": "us-central1",
        "project": "test-project",
    },
    "bedrock-haiku": {
        "provider": "bedrock-anthropic",
        "model_id": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "region": "us-east-1",
    },
    "vertex-haiku": {
        "provider": "vertex-anthropic",
        "model_id": "claude-3-5-haiku@20241022",
        "region": "us-east5",
        "project": "test-project",
    },
    "nova-lite": {
        "provider": "bedrock",
        "model_id": "amazon.nova-lite-v1:0",
        "region": "us-east-1",
    },
}

#: genai-prices' provider id of each catalog provider
LIBRARY_PROVIDER: Final[dict[str, str]] = {
    "gemini": "google",
    "vertex-gemini": "google",
    "vertex-anthropic": "google",
    "bedrock-anthropic": "aws",
    "bedrock": "aws",
}

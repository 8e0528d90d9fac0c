"""`llmrouter route` answers through each cloud provider (Gemini, Gemini on Vertex AI,
Anthropic on Bedrock and on Vertex AI, Bedrock Converse): the command in its own process,
the real SDK over HTTP to the simulator, the result printed as JSON."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
import pytest

from tests.factories import routing_config, static_route
from tests.router.providers.cloud import CLOUD_MODELS

ROOT = Path(__file__).resolve().parents[2]


async def _route(sim_url: str, config: Path, name: str) -> tuple[int | None, bytes, bytes]:
    """`llmrouter route` in its own process, on a config holding only `name`'s model (so
    the process imports only that provider's SDK)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "GOOGLE_", "GEMINI_"))  # the simulator's stand-ins
    }
    env["LLMROUTER_SIMULATOR_URL"] = sim_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmrouter",
        "route",
        "--task",
        "ask",
        "--input",
        "How do I reset my password?",
        "--config",
        str(config),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=110)
    return process.returncode, out, err


@pytest.mark.slow  # five processes, each importing its SDK (seconds of CPU apiece)
@pytest.mark.timeout(120)
async def test_route_answers_through_each_provider(sim_url: str, tmp_path: Path) -> None:
    configs: dict[str, Path] = {}
    for name, spec in CLOUD_MODELS.items():
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(
            routing_config(models={name: spec}, tasks={"ask": static_route(name)}),
            encoding="utf-8",
        )
    runs = await asyncio.gather(*(_route(sim_url, configs[n], n) for n in CLOUD_MODELS))
    for name, (code, out, err) in zip(CLOUD_MODELS, runs, strict=True):
        assert code == 0, f"{name}: {err.decode()}"
        result = orjson.loads(out)
        assert result["status"] == "ok"
        assert result["provider"] == CLOUD_MODELS[name]["provider"]
        assert result["model"] == name
        assert result["output"]
        (attempt,) = result["attempts"]
        assert attempt["input_tokens"] > 0
        assert attempt["cost_usd"] > 0

"""Fixtures for the simulator tests: a made-up eval set, a simulator, and real SDK clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from llmrouter.simulator import ModelProfile, SimConfig, running

ELEMENT_WORDS = (
    "amber",
    "basalt",
    "cobalt",
    "dune",
    "ember",
    "fjord",
    "glacier",
    "harbor",
    "indigo",
    "jasper",
    "kelp",
    "lagoon",
)


def qa_examples(count: int = 40) -> list[dict[str, Any]]:
    """Questions with four made-up expected elements each, all of medium difficulty."""
    return [
        {
            "input": f"What are the four codewords for locker {i}?",
            "category": "made-up",
            "difficulty": "medium",
            "expected_elements": [
                f"{ELEMENT_WORDS[(i + k) % len(ELEMENT_WORDS)]} {i}-{k}" for k in range(4)
            ],
        }
        for i in range(count)
    ]


def moderation_examples(count: int = 60) -> list[dict[str, Any]]:
    return [
        {
            "input": f"Comment number {i}: "
            + ("you are a complete idiot" if i % 3 == 0 else "thanks, this was useful"),
            "category": "made-up",
            "difficulty": "medium",
            "label": "unsafe" if i % 3 == 0 else "safe",
        }
        for i in range(count)
    ]


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "evalsets"
    folder.mkdir()
    sets = {
        "locker-qa.json": {"task": "locker-qa", "examples": qa_examples()},
        "moderation.json": {"task": "comment-moderation", "examples": moderation_examples()},
        "support.json": {
            "task": "support",
            "examples": [
                {
                    "input": "How do I reset my password?",
                    "category": "common",
                    "difficulty": "easy",
                    "expected_elements": ["forgot password", "reset link"],
                },
                {
                    "input": "I was charged incorrectly and my account is suspended.\n"
                    "Also my refund never arrived.",
                    "category": "billing",
                    "difficulty": "hard",
                    "expected_elements": ["billing team", "account review"],
                },
            ],
        },
    }
    for name, content in sets.items():
        (folder / name).write_bytes(orjson.dumps(content))
    (folder / "not-an-eval.json").write_bytes(b'{"something": "else"}')
    return folder


@pytest.fixture
def sim_config(eval_dir: Path) -> SimConfig:
    return SimConfig(
        latency_ms=0,
        seed=1,
        eval_dirs=[eval_dir],
        models={
            "sim-strong": ModelProfile(quality=0.95),
            "sim-weak": ModelProfile(quality=0.5),
            "sim-tiny-window": ModelProfile(context_window_tokens=50),
        },
    )


@pytest.fixture
async def sim_url(sim_config: SimConfig) -> AsyncIterator[str]:
    async with running(sim_config) as url:
        yield url


@pytest.fixture
async def oai(sim_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{sim_url}/v1", api_key="sk-test", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def anth(sim_url: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=sim_url, api_key="sk-test", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_stats(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/_sim/stats") as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data

"""`/_sim/stats` counts upstream calls per model and outcome; `/_sim/reset` zeroes them."""

from __future__ import annotations

import aiohttp
import anthropic
import openai
import pytest

from .conftest import get_stats


async def test_counts_per_model_and_outcome(
    oai: openai.AsyncOpenAI,
    anth: anthropic.AsyncAnthropic,
    http: aiohttp.ClientSession,
    sim_url: str,
) -> None:
    for _ in range(3):
        await oai.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.RateLimitError):
        await oai.chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-sim-fault": "429"},
        )
    await anth.messages.create(
        model="claude-3-haiku", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    )
    with pytest.raises(anthropic.APITimeoutError):
        await anth.with_options(timeout=0.2).messages.create(
            model="claude-3-haiku",
            max_tokens=10,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-sim-fault": "hang"},
        )

    stats = await get_stats(http, sim_url)
    assert stats["models"]["gpt-4-turbo"]["ok"] == 3
    assert stats["models"]["gpt-4-turbo"]["429"] == 1
    assert stats["models"]["gpt-4-turbo"]["500"] == 0
    assert stats["models"]["claude-3-haiku"]["ok"] == 1
    assert stats["models"]["claude-3-haiku"]["hang"] == 1
    assert stats["totals"]["ok"] == 4
    assert stats["requests"] == 6
    assert stats["apis"] == {"openai": 4, "anthropic": 2}

    async with http.post(f"{sim_url}/_sim/reset") as resp:
        assert resp.status == 200
    stats = await get_stats(http, sim_url)
    assert stats["requests"] == 0
    assert stats["models"] == {}


async def test_healthz(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.get(f"{sim_url}/healthz") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok"
    assert body["eval_examples"] == 102


async def test_profile_endpoint_resolves_ids(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.get(f"{sim_url}/_sim/models/claude-3-haiku-20240307") as resp:
        body = await resp.json()
    assert body["quality"] == 0.76
    assert body["context_window_tokens"] == 200_000


async def test_a_call_abandoned_during_latency_is_counted(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    with pytest.raises(openai.APITimeoutError):
        await oai.with_options(timeout=0.2).chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "slow one"}],
            extra_headers={"x-sim-latency-ms": "5000"},
        )
    stats = await get_stats(http, sim_url)
    assert stats["models"]["gpt-4-turbo"]["ok"] == 1

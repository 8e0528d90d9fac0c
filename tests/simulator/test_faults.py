"""Fault injection: config rates (seeded, reproducible), headers, prompt markers, latency."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest

from llmrouter.simulator import ModelProfile, SimConfig, running

from .conftest import get_stats


@pytest.fixture
async def flaky_url(eval_dir: Path) -> AsyncIterator[str]:
    config = SimConfig(
        latency_ms=0,
        seed=5,
        eval_dirs=[eval_dir],
        models={
            "flaky-model": ModelProfile(rate_429=0.2, rate_500=0.2, rate_529=0.1, retry_after_s=3)
        },
    )
    async with running(config) as url:
        yield url


async def _outcomes(client: openai.AsyncOpenAI, n: int) -> list[str]:
    seen: list[str] = []
    for i in range(n):
        try:
            await client.chat.completions.create(
                model="flaky-model", messages=[{"role": "user", "content": f"q{i}"}]
            )
            seen.append("ok")
        except openai.APIStatusError as exc:
            seen.append(str(exc.status_code))
    return seen


async def test_rate_based_faults_are_reproducible(
    flaky_url: str, http: aiohttp.ClientSession
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{flaky_url}/v1", api_key="sk-test", max_retries=0)
    try:
        first = await _outcomes(client, 60)
        stats = await get_stats(http, flaky_url)
        async with http.post(f"{flaky_url}/_sim/reset") as resp:
            assert resp.status == 200
        second = await _outcomes(client, 60)
    finally:
        await client.close()
    assert first == second
    assert {"ok", "429", "500", "503"} <= set(first)
    row = stats["models"]["flaky-model"]
    assert row["ok"] == first.count("ok")
    assert row["429"] == first.count("429")
    assert row["500"] == first.count("500")
    assert row["529"] == first.count("503")


async def test_fault_times_lets_the_retry_through(oai: openai.AsyncOpenAI) -> None:
    kwargs = {
        "model": "gpt-4-turbo",
        "messages": [{"role": "user", "content": "retry me"}],
        "extra_headers": {"x-sim-fault": "500", "x-sim-fault-times": "1"},
    }
    with pytest.raises(openai.InternalServerError):
        await oai.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    ok = await oai.chat.completions.create(**kwargs)  # type: ignore[call-overload]
    assert ok.choices[0].message.content


async def test_sdk_retries_honour_retry_after(sim_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{sim_url}/v1", api_key="sk-test", max_retries=1)
    try:
        started = time.monotonic()
        resp = await client.chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "retry after"}],
            extra_headers={
                "x-sim-fault": "429",
                "x-sim-fault-times": "1",
                "x-sim-retry-after": "0.2",
            },
        )
        elapsed = time.monotonic() - started
    finally:
        await client.close()
    assert resp.choices[0].message.content
    assert elapsed >= 0.2  # a lower bound only: a loaded machine makes it longer, never shorter


async def test_prompt_marker_targets_one_model(
    oai: openai.AsyncOpenAI,
    anth: anthropic.AsyncAnthropic,
    http: aiohttp.ClientSession,
    sim_url: str,
) -> None:
    text = "How do I reset my password? [[sim:fault=529@haiku]]"
    with pytest.raises(anthropic.OverloadedError):
        await anth.messages.create(
            model="claude-3-haiku-20240307",
            max_tokens=100,
            messages=[{"role": "user", "content": text}],
        )
    ok = await anth.messages.create(
        model="claude-3-sonnet-20240229",
        max_tokens=500,
        messages=[{"role": "user", "content": text}],
    )
    block = ok.content[0]
    assert isinstance(block, anthropic.types.TextBlock)
    assert "[[sim:" not in block.text
    plain = await anth.messages.create(
        model="claude-3-sonnet-20240229",
        max_tokens=500,
        messages=[{"role": "user", "content": "How do I reset my password? "}],
    )
    assert ok.content == plain.content
    stats = await get_stats(http, sim_url)
    assert stats["models"]["claude-3-haiku-20240307"]["529"] == 1


async def test_prompt_marker_with_times(oai: openai.AsyncOpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "[[sim:fault=429*2]] hello"}
    ]
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            await oai.chat.completions.create(model="gpt-4", messages=messages)
    await oai.chat.completions.create(model="gpt-4", messages=messages)


async def test_latency_header(oai: openai.AsyncOpenAI) -> None:
    started = time.monotonic()
    await oai.chat.completions.create(
        model="gpt-4-turbo",
        messages=[{"role": "user", "content": "slow"}],
        extra_headers={"x-sim-latency-ms": "250"},
    )
    assert time.monotonic() - started >= 0.25  # a lower bound only, as above


async def test_profile_latency_is_sampled(eval_dir: Path) -> None:
    # median = p95: no spread, every sample is the median, 20 s, scaled to 0.1 s. The lower
    # bound (a sleep lasts at least as long as asked) holds on any machine; the upper one
    # only tells the scaled latency from the unscaled 20 s, with a margin of 100 times what
    # is asked, so a loaded machine cannot break it.
    config = SimConfig(
        latency_scale=0.005,
        eval_dirs=[eval_dir],
        models={"slowish": ModelProfile(latency_median_ms=20_000, latency_p95_ms=20_000)},
    )
    async with running(config) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
        try:
            started = time.monotonic()
            await client.chat.completions.create(
                model="slowish", messages=[{"role": "user", "content": "x"}]
            )
            elapsed = time.monotonic() - started
        finally:
            await client.close()
    assert 0.1 <= elapsed < 10.0


async def test_runtime_profile_change(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    async with http.post(f"{sim_url}/_sim/models/gpt-4-turbo", json={"rate_500": 1.0}) as resp:
        assert resp.status == 200
        assert (await resp.json())["rate_500"] == 1.0
    with pytest.raises(openai.InternalServerError):
        await oai.chat.completions.create(
            model="gpt-4-turbo-2024-04-09", messages=[{"role": "user", "content": "x"}]
        )
    async with http.post(f"{sim_url}/_sim/models/gpt-4-turbo", json={"rate_500": 7}) as resp:
        assert resp.status == 400
    async with http.post(f"{sim_url}/_sim/models/gpt-4-turbo", json={"rate_500": 0}) as resp:
        assert resp.status == 200
    await oai.chat.completions.create(
        model="gpt-4-turbo-2024-04-09", messages=[{"role": "user", "content": "x"}]
    )

"""`/_sim/calls`: one row per call — model, prompt hash, start, end, outcome — bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from llmrouter.simulator import SimConfig, create_app, engine_of, running
from llmrouter.simulator.answers import Prompt
from llmrouter.simulator.journal import CallJournal, prompt_hash


async def get_calls(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/_sim/calls") as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data


async def calls_when(
    http: aiohttp.ClientSession, url: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The journal's calls once `done(calls)` holds (within 5 s)."""
    async with asyncio.timeout(5):
        while not done(calls := list((await get_calls(http, url))["calls"])):  # noqa: ASYNC110 - polled over HTTP, no event to await
            await asyncio.sleep(0.01)
    return calls


async def test_every_call_is_a_row_with_its_prompt_hash_times_and_outcome(
    oai: openai.AsyncOpenAI,
    anth: anthropic.AsyncAnthropic,
    http: aiohttp.ClientSession,
    sim_url: str,
) -> None:
    before = time.monotonic()
    for text in ("first", "second", "first"):
        await oai.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "user", "content": text}]
        )
    with pytest.raises(anthropic.RateLimitError):
        await anth.messages.create(
            model="claude-3-haiku",
            max_tokens=10,
            messages=[{"role": "user", "content": "first[[sim:fault=429]]"}],
        )
    after = time.monotonic()

    journal = await get_calls(http, sim_url)
    calls = journal["calls"]
    assert journal["total"] == 4
    assert [(c["api"], c["model"], c["outcome"]) for c in calls] == [
        ("openai", "gpt-4-turbo", "ok"),
        ("openai", "gpt-4-turbo", "ok"),
        ("openai", "gpt-4-turbo", "ok"),
        ("anthropic", "claude-3-haiku", "429"),
    ]
    hashes = [c["prompt_hash"] for c in calls]
    assert hashes[0] == hashes[2] != hashes[1]
    assert hashes[3] == hashes[0]  # markers are not part of the prompt as answered
    assert hashes[0] == prompt_hash(Prompt(system="", messages=(("user", "first"),)))
    # the in-process simulator's clock is this test's clock
    for c in calls:
        assert before <= c["started_at"] <= c["ended_at"] <= after
    starts = [c["started_at"] for c in calls]
    assert starts == sorted(starts)


async def test_a_call_in_flight_has_no_end_and_one_abandoned_is_cancelled(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    call = asyncio.create_task(
        oai.with_options(timeout=1.0).chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "slow one"}],
            extra_headers={"x-sim-latency-ms": "5000"},
        )
    )
    (row,) = await calls_when(http, sim_url, lambda calls: bool(calls))
    assert (row["ended_at"], row["outcome"]) == (None, None)

    with pytest.raises(openai.APITimeoutError):
        await call
    gave_up = time.monotonic()
    # the server notices the closed connection
    (row,) = await calls_when(http, sim_url, lambda calls: calls[0]["outcome"] is not None)
    assert row["outcome"] == "cancelled"
    assert row["started_at"] < row["ended_at"] <= gave_up + 5
    assert row["ended_at"] - row["started_at"] < 4.0  # well before its 5 s answer


async def test_reset_empties_the_journal(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert (await get_calls(http, sim_url))["total"] == 1
    async with http.post(f"{sim_url}/_sim/reset") as resp:
        assert resp.status == 200
    assert await get_calls(http, sim_url) == {"capacity": 10_000, "total": 0, "calls": []}


async def test_the_journal_keeps_only_the_latest_calls(http: aiohttp.ClientSession) -> None:
    async with running(SimConfig(latency_ms=0, journal_size=3, eval_dirs=[])) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
        try:
            for i in range(5):
                await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"n{i}"}]
                )
        finally:
            await client.close()
        journal = await get_calls(http, url)
    assert (journal["capacity"], journal["total"], len(journal["calls"])) == (3, 5, 3)
    expected = [prompt_hash(Prompt("", (("user", f"n{i}"),))) for i in (2, 3, 4)]
    assert [c["prompt_hash"] for c in journal["calls"]] == expected


def test_the_journal_is_reachable_in_process() -> None:
    app = create_app(SimConfig(latency_ms=0, eval_dirs=[]))
    journal = engine_of(app).journal
    assert isinstance(journal, CallJournal)
    record = journal.begin("openai", "m", Prompt("s", (("user", "u"),)), at=1.0)
    assert journal.calls() == [record]
    journal.finish(record, "ok", at=2.0)
    assert (journal.calls()[0].ended_at, journal.calls()[0].outcome) == (2.0, "ok")
    # roles count: the same text from another role is another prompt
    assert prompt_hash(Prompt("", (("user", "u"),))) != prompt_hash(
        Prompt("", (("assistant", "u"),))
    )


async def test_a_test_in_the_same_process_can_wait_on_the_journal() -> None:
    app = create_app(SimConfig(latency_ms=0, eval_dirs=[]))
    journal = engine_of(app).journal
    async with running(app=app) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
        try:
            slow = asyncio.create_task(
                client.chat.completions.create(
                    model="gpt-4o",
                    messages=[{"role": "user", "content": "slow"}],
                    extra_headers={"x-sim-latency-ms": "300"},
                )
            )
            calls = await journal.wait_until(lambda cs: len(cs) == 1, timeout_s=5)
            assert calls[0].ended_at is None  # woken at its start
            calls = await journal.wait_until(lambda cs: cs[0].outcome is not None, timeout_s=5)
            assert calls[0].outcome == "ok"
            await slow
        finally:
            await client.close()
        with pytest.raises(TimeoutError):
            await journal.wait_until(lambda cs: len(cs) > 1, timeout_s=0.05)

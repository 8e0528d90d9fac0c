"""The simulator's prompt caches and reasoning tokens, through the real SDKs, and the
cache's rules (minimum lengths, increments, TTLs) on a clock of the test's own."""

from __future__ import annotations

import anthropic
import openai

from llmrouter.simulator import estimate_tokens
from llmrouter.simulator.prompt_cache import (
    TTL_1H_S,
    TTL_5M_S,
    Breakpoint,
    PromptCache,
)

# about 1,500 tokens of shared prefix (4 characters a token)
LONG_SYSTEM = "You are a meticulous support assistant. " * 150
QUESTION = "How do I reset my password?"


async def test_a_second_identical_long_prompt_reports_cached_tokens(
    oai: openai.AsyncOpenAI,
) -> None:
    messages: list[dict[str, str]] = [
        {"role": "system", "content": LONG_SYSTEM},
        {"role": "user", "content": QUESTION},
    ]
    first = await oai.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    second = await oai.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert first.usage is not None
    assert second.usage is not None
    assert first.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage.prompt_tokens_details is not None
    cached = second.usage.prompt_tokens_details.cached_tokens
    prompt_tokens = estimate_tokens(f"{LONG_SYSTEM}\n{QUESTION}")
    assert second.usage.prompt_tokens == prompt_tokens == first.usage.prompt_tokens
    # the longest 128-token increment from 1024 that fits the prompt
    assert cached == 1024 + (prompt_tokens - 1024) // 128 * 128
    # the cache adds usage details only: the same answer
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.usage.completion_tokens == first.usage.completion_tokens


async def test_a_short_prompt_is_never_cached(oai: openai.AsyncOpenAI) -> None:
    for _ in range(2):
        resp = await oai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
        assert resp.usage is not None
        assert resp.usage.prompt_tokens_details is not None
        assert resp.usage.prompt_tokens_details.cached_tokens == 0


async def test_another_model_does_not_share_the_cache(oai: openai.AsyncOpenAI) -> None:
    messages = [{"role": "system", "content": LONG_SYSTEM}, {"role": "user", "content": QUESTION}]
    await oai.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    other = await oai.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
    assert other.usage is not None
    assert other.usage.prompt_tokens_details is not None
    assert other.usage.prompt_tokens_details.cached_tokens == 0


async def test_a_reasoning_model_reports_reasoning_tokens(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="o3-mini", messages=[{"role": "user", "content": QUESTION}]
    )
    assert resp.usage is not None
    assert resp.usage.completion_tokens_details is not None
    reasoning = resp.usage.completion_tokens_details.reasoning_tokens
    visible = estimate_tokens(resp.choices[0].message.content or "")
    assert reasoning == 2 * visible
    assert resp.usage.completion_tokens == visible + reasoning
    plain = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
    )
    assert plain.usage is not None
    assert plain.usage.completion_tokens_details is not None
    assert plain.usage.completion_tokens_details.reasoning_tokens == 0


async def test_reasoning_stays_within_max_completion_tokens(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="o3-mini",
        messages=[{"role": "user", "content": QUESTION}],
        max_completion_tokens=6,
    )
    assert resp.usage is not None
    assert resp.usage.completion_tokens <= 6


def _cached_system(ttl: str | None = None) -> list[dict[str, object]]:
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [{"type": "text", "text": LONG_SYSTEM, "cache_control": control}]


async def test_anthropic_writes_then_reads_a_cache_control_prefix(
    anth: anthropic.AsyncAnthropic,
) -> None:
    async def ask() -> anthropic.types.Message:
        return await anth.messages.create(
            model="claude-sonnet-4-5-20250929",
            max_tokens=200,
            system=_cached_system(),  # type: ignore[arg-type]
            messages=[{"role": "user", "content": QUESTION}],
        )

    first, second = await ask(), await ask()
    cached = estimate_tokens(LONG_SYSTEM)
    total = estimate_tokens(f"{LONG_SYSTEM}\n{QUESTION}")
    assert first.usage.cache_creation_input_tokens == cached
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.input_tokens == total - cached
    assert first.usage.cache_creation is not None
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == cached
    assert first.usage.cache_creation.ephemeral_1h_input_tokens == 0
    assert second.usage.cache_read_input_tokens == cached
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == total - cached
    assert second.content == first.content


async def test_anthropic_one_hour_writes_are_reported_apart(
    anth: anthropic.AsyncAnthropic,
) -> None:
    resp = await anth.messages.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=200,
        system=_cached_system("1h"),  # type: ignore[arg-type]
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert resp.usage.cache_creation is not None
    assert resp.usage.cache_creation.ephemeral_1h_input_tokens == estimate_tokens(LONG_SYSTEM)
    assert resp.usage.cache_creation.ephemeral_5m_input_tokens == 0


async def test_haiku_needs_2048_tokens_to_cache(anth: anthropic.AsyncAnthropic) -> None:
    for _ in range(2):
        resp = await anth.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=200,
            system=_cached_system(),  # type: ignore[arg-type]
            messages=[{"role": "user", "content": QUESTION}],
        )
        assert resp.usage.cache_creation_input_tokens == 0
        assert resp.usage.cache_read_input_tokens == 0
        assert resp.usage.input_tokens == estimate_tokens(f"{LONG_SYSTEM}\n{QUESTION}")


async def test_anthropic_without_cache_control_caches_nothing(
    anth: anthropic.AsyncAnthropic,
) -> None:
    for _ in range(2):
        resp = await anth.messages.create(
            model="claude-sonnet-4-5-20250929",
            max_tokens=200,
            system=LONG_SYSTEM,
            messages=[{"role": "user", "content": QUESTION}],
        )
        assert resp.usage.cache_read_input_tokens == 0
        assert resp.usage.cache_creation_input_tokens == 0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_openai_entries_expire_after_five_idle_minutes() -> None:
    clock = _Clock()
    cache = PromptCache(clock)
    text = "x" * 4 * 2000
    assert cache.openai("m", text).read_tokens == 0
    clock.now += TTL_5M_S - 1
    assert cache.openai("m", text).read_tokens == 1920  # a use renews the entry
    clock.now += TTL_5M_S - 1
    assert cache.openai("m", text).read_tokens == 1920
    clock.now += TTL_5M_S + 1
    assert cache.openai("m", text).read_tokens == 0


def test_openai_reads_the_longest_shared_increment() -> None:
    cache = PromptCache(_Clock())
    base = "y" * 4 * 1300
    cache.openai("m", base + "tail one")
    # the second prompt shares 1300 tokens: the 1280-token increment is the longest cached
    assert cache.openai("m", base + "a different tail").read_tokens == 1280


def test_anthropic_ttls_and_the_longest_hit() -> None:
    clock = _Clock()
    cache = PromptCache(clock)
    text = "z" * 4 * 3000
    marks = [Breakpoint(4 * 1200, TTL_1H_S), Breakpoint(4 * 2500)]
    first = cache.anthropic("claude-sonnet-4-5", text, marks)
    assert (first.read_tokens, first.write_1h_tokens, first.write_5m_tokens) == (0, 1200, 1300)
    clock.now += TTL_5M_S + 1  # the 5-minute entry is gone, the 1-hour one is not
    second = cache.anthropic("claude-sonnet-4-5", text, marks)
    assert (second.read_tokens, second.write_1h_tokens, second.write_5m_tokens) == (1200, 0, 1300)
    third = cache.anthropic("claude-sonnet-4-5", text, marks)
    assert (third.read_tokens, third.write_tokens) == (2500, 0)
    clock.now += TTL_1H_S + 1
    assert cache.anthropic("claude-sonnet-4-5", text, marks).read_tokens == 0


def test_expired_entries_are_swept_as_writes_go_on() -> None:
    clock = _Clock()
    cache = PromptCache(clock)
    for i in range(30):
        cache.openai("m", f"{i:04d}" + "w" * 4 * 100_000)  # ~780 increments each
        clock.now += TTL_5M_S + 1  # every earlier entry has expired
    assert len(cache) < 5_000  # 30 × ~780 writes without the sweep

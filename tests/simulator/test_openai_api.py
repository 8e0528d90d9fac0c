"""The OpenAI Chat Completions surface, driven through the real `openai` SDK."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

from llmrouter.simulator import estimate_tokens

from .conftest import get_stats

SYSTEM = "You are a support assistant."
QUESTION = "How do I reset my password?"


async def test_ok_answer_with_usage(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="gpt-4-turbo",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    )
    assert resp.object == "chat.completion"
    assert resp.model == "gpt-4-turbo"
    choice = resp.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == estimate_tokens(f"{SYSTEM}\n{QUESTION}")
    assert resp.usage.completion_tokens == estimate_tokens(choice.message.content)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.id.startswith("chatcmpl-")


async def test_base_url_without_v1_also_works(sim_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=sim_url, api_key="sk-test", max_retries=0)
    try:
        resp = await client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hello"}]
        )
    finally:
        await client.close()
    assert resp.choices[0].message.content


async def test_max_tokens_truncates(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="gpt-4-turbo", messages=[{"role": "user", "content": QUESTION}], max_tokens=3
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage is not None
    assert resp.usage.completion_tokens <= 3
    content = resp.choices[0].message.content
    assert content is not None
    assert len(content) <= 12


async def test_max_completion_tokens_is_honoured(oai: openai.AsyncOpenAI) -> None:
    resp = await oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], max_completion_tokens=2
    )
    assert resp.choices[0].finish_reason == "length"


async def test_stop_sequence_cuts_the_answer(oai: openai.AsyncOpenAI) -> None:
    full = await oai.chat.completions.create(
        model="gpt-4-turbo", messages=[{"role": "user", "content": QUESTION}]
    )
    text = full.choices[0].message.content
    assert text is not None
    stop = text.split()[2]
    cut = await oai.chat.completions.create(
        model="gpt-4-turbo", messages=[{"role": "user", "content": QUESTION}], stop=[stop]
    )
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == text[: text.index(stop)]


async def test_streaming_matches_the_plain_answer(oai: openai.AsyncOpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": QUESTION}
    ]
    plain = await oai.chat.completions.create(model="gpt-4-turbo", messages=messages)
    stream = await oai.chat.completions.create(
        model="gpt-4-turbo",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(pieces) == plain.choices[0].message.content
    assert usage is not None
    assert usage == plain.usage


@pytest.mark.parametrize(
    ("fault", "exc_type", "status", "code"),
    [
        ("429", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("500", openai.InternalServerError, 500, None),
        ("529", openai.InternalServerError, 503, None),
        ("context_length", openai.BadRequestError, 400, "context_length_exceeded"),
        ("content_policy", openai.BadRequestError, 400, "content_policy_violation"),
        ("auth", openai.AuthenticationError, 401, "invalid_api_key"),
    ],
)
async def test_fault_header_raises_the_sdk_error(
    oai: openai.AsyncOpenAI,
    fault: str,
    exc_type: type[openai.APIStatusError],
    status: int,
    code: str | None,
) -> None:
    with pytest.raises(exc_type) as info:
        await oai.chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": fault},
        )
    assert info.value.status_code == status
    assert info.value.code == code
    assert "sk-test" not in info.value.response.text


async def test_rate_limit_carries_retry_after(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        await oai.chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "429", "x-sim-retry-after": "2.5"},
        )
    headers = info.value.response.headers
    assert headers["retry-after"] == "2.5"
    assert headers["retry-after-ms"] == "2500"
    assert info.value.type == "requests"


async def test_invalid_key_is_rejected(sim_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{sim_url}/v1", api_key="sk-sim-invalid", max_retries=0)
    try:
        with pytest.raises(openai.AuthenticationError) as info:
            await client.chat.completions.create(
                model="gpt-4-turbo", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        await client.close()
    assert "sk-sim-invalid" not in info.value.response.text


async def test_hang_times_out(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        await oai.with_options(timeout=0.3).chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "hang"},
        )


async def test_malformed_body_fails_to_decode(oai: openai.AsyncOpenAI) -> None:
    # The SDK does not wrap this one: a 200 with broken JSON surfaces as JSONDecodeError.
    with pytest.raises(json.JSONDecodeError):
        await oai.chat.completions.create(
            model="gpt-4-turbo",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "malformed"},
        )


async def test_prompt_over_the_context_window(
    oai: openai.AsyncOpenAI, http: aiohttp.ClientSession, sim_url: str
) -> None:
    prompt = "word " * 100  # 500 chars = 125 tokens > 50
    with pytest.raises(openai.BadRequestError) as info:
        await oai.chat.completions.create(
            model="sim-tiny-window", messages=[{"role": "user", "content": prompt}]
        )
    assert info.value.code == "context_length_exceeded"
    assert info.value.param == "messages"
    assert "maximum context length is 50 tokens" in info.value.message
    assert "125 tokens" in info.value.message
    stats = await get_stats(http, sim_url)
    assert stats["models"]["sim-tiny-window"]["context_length"] == 1


async def test_bad_bodies_get_openai_shaped_400s(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.post(f"{sim_url}/v1/chat/completions", data=b"{not json") as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["error"]["type"] == "invalid_request_error"
    async with http.post(f"{sim_url}/v1/chat/completions", json={"model": "gpt-4"}) as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["error"]["param"] == "messages"
        assert body["error"]["code"] == "missing_required_parameter"
    async with http.post(
        f"{sim_url}/v1/chat/completions",
        json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-sim-fault": "teapot"},
    ) as resp:
        assert resp.status == 400
        assert "unknown simulated fault" in (await resp.json())["error"]["message"]

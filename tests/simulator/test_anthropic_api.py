"""The Anthropic Messages surface, driven through the real `anthropic` SDK."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import pytest

from llmrouter.simulator import estimate_tokens

SYSTEM = "You are a support assistant."
QUESTION = "How do I reset my password?"


async def test_ok_answer_with_usage(anth: anthropic.AsyncAnthropic) -> None:
    msg = await anth.messages.create(
        model="claude-3-haiku-20240307",
        max_tokens=300,
        system=SYSTEM,
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.model == "claude-3-haiku-20240307"
    assert msg.stop_reason == "end_turn"
    assert msg.stop_sequence is None
    block = msg.content[0]
    assert isinstance(block, anthropic.types.TextBlock)
    assert block.text
    assert msg.usage.input_tokens == estimate_tokens(f"{SYSTEM}\n{QUESTION}")
    assert msg.usage.output_tokens == estimate_tokens(block.text)
    assert msg.id.startswith("msg_")


async def test_system_as_blocks_and_content_as_blocks(anth: anthropic.AsyncAnthropic) -> None:
    msg = await anth.messages.create(
        model="claude-3-sonnet-20240229",
        max_tokens=300,
        system=[{"type": "text", "text": SYSTEM}],
        messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
    )
    assert msg.usage.input_tokens == estimate_tokens(f"{SYSTEM}\n{QUESTION}")


async def test_max_tokens_truncates(anth: anthropic.AsyncAnthropic) -> None:
    msg = await anth.messages.create(
        model="claude-3-opus-20240229",
        max_tokens=4,
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens <= 4


async def test_stop_sequences(anth: anthropic.AsyncAnthropic) -> None:
    full = await anth.messages.create(
        model="claude-3-opus-20240229",
        max_tokens=500,
        messages=[{"role": "user", "content": QUESTION}],
    )
    block = full.content[0]
    assert isinstance(block, anthropic.types.TextBlock)
    stop = block.text.split()[1]
    cut = await anth.messages.create(
        model="claude-3-opus-20240229",
        max_tokens=500,
        stop_sequences=[stop],
        messages=[{"role": "user", "content": QUESTION}],
    )
    assert cut.stop_reason == "stop_sequence"
    assert cut.stop_sequence == stop


async def test_streaming_matches_the_plain_answer(anth: anthropic.AsyncAnthropic) -> None:
    plain = await anth.messages.create(
        model="claude-3-haiku", max_tokens=300, messages=[{"role": "user", "content": QUESTION}]
    )
    async with anth.messages.stream(
        model="claude-3-haiku", max_tokens=300, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        final = await stream.get_final_message()
    streamed, whole = final.content[0], plain.content[0]
    assert isinstance(streamed, anthropic.types.TextBlock)
    assert isinstance(whole, anthropic.types.TextBlock)
    assert streamed.text == whole.text
    assert final.stop_reason == plain.stop_reason
    assert final.usage.output_tokens == plain.usage.output_tokens


@pytest.mark.parametrize(
    ("fault", "exc_type", "status", "error_type"),
    [
        ("429", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("500", anthropic.InternalServerError, 500, "api_error"),
        ("529", anthropic.OverloadedError, 529, "overloaded_error"),
        ("context_length", anthropic.BadRequestError, 400, "invalid_request_error"),
        ("content_policy", anthropic.BadRequestError, 400, "invalid_request_error"),
        ("auth", anthropic.AuthenticationError, 401, "authentication_error"),
    ],
)
async def test_fault_header_raises_the_sdk_error(
    anth: anthropic.AsyncAnthropic,
    fault: str,
    exc_type: type[anthropic.APIStatusError],
    status: int,
    error_type: str,
) -> None:
    with pytest.raises(exc_type) as info:
        await anth.messages.create(
            model="claude-3-haiku",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": fault},
        )
    assert info.value.status_code == status
    assert info.value.type == error_type
    assert info.value.request_id is not None
    if fault == "500":
        assert not isinstance(info.value, anthropic.OverloadedError)


async def test_rate_limit_carries_retry_after(anth: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as info:
        await anth.messages.create(
            model="claude-3-haiku",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "429", "x-sim-retry-after": "7"},
        )
    assert info.value.response.headers["retry-after"] == "7"


async def test_invalid_key_is_rejected(sim_url: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=sim_url, api_key="sk-sim-invalid", max_retries=0)
    try:
        with pytest.raises(anthropic.AuthenticationError) as info:
            await client.messages.create(
                model="claude-3-haiku", max_tokens=10, messages=[{"role": "user", "content": "x"}]
            )
    finally:
        await client.close()
    assert "sk-sim-invalid" not in info.value.response.text


async def test_hang_times_out(anth: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.APITimeoutError):
        await anth.with_options(timeout=0.3).messages.create(
            model="claude-3-haiku",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "hang"},
        )


async def test_malformed_body_fails_to_decode(anth: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(json.JSONDecodeError):
        await anth.messages.create(
            model="claude-3-haiku",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-sim-fault": "malformed"},
        )


async def test_prompt_too_long(anth: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        await anth.messages.create(
            model="sim-tiny-window",
            max_tokens=50,
            messages=[{"role": "user", "content": "word " * 100}],
        )
    assert info.value.api_message == "prompt is too long: 125 tokens > 50 maximum"


async def test_max_tokens_is_required(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.post(
        f"{sim_url}/v1/messages",
        json={"model": "claude-3-haiku", "messages": [{"role": "user", "content": "x"}]},
    ) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }


async def test_messages_path_without_v1(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.post(
        f"{sim_url}/messages",
        json={
            "model": "claude-3-haiku",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "x"}],
        },
        headers={"x-api-key": "sk-test"},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["type"] == "message"

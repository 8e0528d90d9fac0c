"""The token classes each provider client reads from its provider's usage: cache reads and
writes as parts of the input, reasoning as part of the output. Built from the providers'
documented response shapes, and over real HTTP to the simulator through the SDKs."""

from __future__ import annotations

from typing import Any

from llmrouter.router.providers.anthropic_client import AnthropicProvider
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.openai_client import OpenAIProvider

KEY = "sk-sim-key"


def _request(model_id: str, user: str = "What is the refund window?") -> ChatRequest:
    return ChatRequest(
        model_id=model_id,
        system="You are a customer support assistant.",
        user=user,
        max_output_tokens=64,
        temperature=0.0,
        timeout_s=10.0,
    )


def _openai_answer(usage: dict[str, Any] | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
    }
    if usage is not None:
        answer["usage"] = usage
    return answer


def test_openai_cached_and_reasoning_tokens_are_parts_of_the_totals() -> None:
    provider = OpenAIProvider(provider="openai", api_key=KEY, base_url="http://127.0.0.1:9/v1")
    got = provider.read(
        _request("gpt-4o"),
        _openai_answer(
            {
                "prompt_tokens": 2006,
                "completion_tokens": 300,
                "total_tokens": 2306,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 256,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            }
        ),
    )
    assert (got.input_tokens, got.cache_read_tokens, got.cache_write_tokens) == (2006, 1920, 0)
    assert (got.output_tokens, got.reasoning_tokens) == (300, 256)


def test_a_compatible_server_without_details_reports_no_classes() -> None:
    provider = OpenAIProvider(provider="vllm", api_key=KEY, base_url="http://127.0.0.1:9/v1")
    plain = provider.read(
        _request("llama"),
        _openai_answer(
            {"prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": None}
        ),
    )
    assert (plain.input_tokens, plain.cache_read_tokens, plain.reasoning_tokens) == (12, 0, 0)
    # a server claiming more cached tokens than the prompt had is not believed past the total
    odd = provider.read(
        _request("llama"),
        _openai_answer(
            {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 50},
            }
        ),
    )
    assert odd.cache_read_tokens == 10


def test_anthropic_cache_reads_and_writes_are_added_to_the_input_and_kept_apart() -> None:
    provider = AnthropicProvider(api_key=KEY, base_url="http://127.0.0.1:9")
    got = provider.read(
        _request("claude-sonnet-4-5"),
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 50,
                "cache_creation_input_tokens": 2048,
                "cache_read_input_tokens": 4096,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 1024,
                    "ephemeral_1h_input_tokens": 1024,
                },
                "output_tokens": 120,
            },
        },
    )
    assert got.input_tokens == 50 + 2048 + 4096
    assert (got.cache_read_tokens, got.cache_write_tokens, got.cache_write_1h_tokens) == (
        4096,
        2048,
        1024,
    )
    assert (got.output_tokens, got.reasoning_tokens) == (120, 0)


async def test_a_repeated_long_prompt_reads_the_openai_prefix_cache(sim_url: str) -> None:
    provider = OpenAIProvider(provider="openai", api_key=KEY, base_url=f"{sim_url}/v1")
    # about 3,000 tokens of static context, past the 1,024-token minimum of the prefix cache
    context = " ".join(
        f"Policy clause {i}: refunds are due within thirty days." for i in range(300)
    )
    try:
        first = await provider.complete(_request("gpt-4o-mini", f"{context}\n\nQ: refund window?"))
        second = await provider.complete(_request("gpt-4o-mini", f"{context}\n\nQ: who pays?"))
    finally:
        await provider.aclose()
    assert first.input_tokens > 1024
    assert first.cache_read_tokens == 0
    assert 1024 <= second.cache_read_tokens <= second.input_tokens
    assert second.cache_read_tokens % 128 == 0

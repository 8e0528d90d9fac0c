"""The provider clients' low-level calls: the same answers, tokens and errors as the SDKs'
typed `create()`, over real HTTP to the simulator; SDKs imported only when used; uvloop."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import anthropic
import openai
import pytest

from llmrouter.core import eventloop
from llmrouter.core.errors import (
    AuthenticationFailed,
    ContentPolicyViolation,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
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


async def test_openai_matches_the_typed_create(sim_url: str) -> None:
    provider = OpenAIProvider(provider="openai", api_key=KEY, base_url=f"{sim_url}/v1")
    sdk = openai.AsyncOpenAI(api_key=KEY, base_url=f"{sim_url}/v1", max_retries=0)
    try:
        request = _request("gpt-3.5-turbo-0125")
        first = await provider.complete(request)  # through the SDK
        got = await provider.complete(request)  # replayed on the light path
        assert got == first
        typed = await sdk.chat.completions.create(
            model=request.model_id,
            messages=[
                {"role": "system", "content": request.system or ""},
                {"role": "user", "content": request.user},
            ],
            max_completion_tokens=request.max_output_tokens,
            temperature=request.temperature,
        )
    finally:
        await provider.aclose()
        await sdk.close()
    assert typed.usage is not None
    assert got.text == typed.choices[0].message.content
    assert got.text
    assert (got.input_tokens, got.output_tokens) == (
        typed.usage.prompt_tokens,
        typed.usage.completion_tokens,
    )
    assert got.model_version == typed.model
    assert got.finish_reason == typed.choices[0].finish_reason


async def test_anthropic_matches_the_typed_create(sim_url: str) -> None:
    provider = AnthropicProvider(api_key=KEY, base_url=sim_url)
    sdk = anthropic.AsyncAnthropic(api_key=KEY, base_url=sim_url, max_retries=0)
    try:
        request = _request("claude-3-haiku-20240307")
        first = await provider.complete(request)  # through the SDK
        got = await provider.complete(request)  # replayed on the light path
        assert got == first
        typed = await sdk.messages.create(
            model=request.model_id,
            system=request.system or "",
            messages=[{"role": "user", "content": request.user}],
            max_tokens=request.max_output_tokens,
            # extra_body: newer SDKs dropped the typed argument; the API still takes it.
            extra_body={"temperature": request.temperature},
        )
    finally:
        await provider.aclose()
        await sdk.close()
    texts = [block.text for block in typed.content if block.type == "text"]
    assert got.text == "".join(texts)
    assert got.text
    assert got.input_tokens == typed.usage.input_tokens
    assert got.output_tokens == typed.usage.output_tokens
    assert got.model_version == typed.model
    assert got.finish_reason == typed.stop_reason


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("[[sim:fault=429]][[sim:retry_after=3]]", RateLimited),
        ("[[sim:fault=500]]", ProviderUnavailable),
        ("[[sim:fault=529]]", ProviderUnavailable),
        ("[[sim:fault=malformed]]", MalformedResponse),
        ("[[sim:fault=context_length]]", ContextLengthExceeded),
        ("[[sim:fault=content_policy]]", ContentPolicyViolation),
    ],
)
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_faults_are_translated_like_the_typed_create(
    sim_url: str, protocol: str, marker: str, expected: type[Exception]
) -> None:
    provider: OpenAIProvider | AnthropicProvider
    if protocol == "openai":
        provider = OpenAIProvider(provider="openai", api_key=KEY, base_url=f"{sim_url}/v1")
        model = "gpt-3.5-turbo-0125"
    else:
        provider = AnthropicProvider(api_key=KEY, base_url=sim_url)
        model = "claude-3-haiku-20240307"
    try:
        # The first call goes through the SDK (which decides the wire request); the
        # second is replayed on the light path: both must fail the same way.
        for _ in range(2):
            with pytest.raises(expected) as caught:
                await provider.complete(_request(model, f"hello {marker}"))
            assert provider._endpoint._wire is not None
    finally:
        await provider.aclose()
    assert caught.value.model == model  # type: ignore[attr-defined]
    if expected is RateLimited:
        assert caught.value.retry_after_s == 3.0  # type: ignore[attr-defined]
        assert caught.value.status_code == 429  # type: ignore[attr-defined]


async def test_a_burst_on_a_new_client_goes_through_the_sdk_once(sim_url: str) -> None:
    provider = OpenAIProvider(provider="openai", api_key=KEY, base_url=f"{sim_url}/v1")
    sdk_calls = 0
    through_sdk = provider._endpoint._through_sdk

    async def counted(body: dict[str, object], timeout_s: float) -> object:
        nonlocal sdk_calls
        sdk_calls += 1
        return await through_sdk(body, timeout_s)

    provider._endpoint._through_sdk = counted  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(
            *(provider.complete(_request("gpt-3.5-turbo-0125")) for _ in range(200))
        )
    finally:
        await provider.aclose()
    assert all(answer.text for answer in answers)
    assert sdk_calls == 1


async def test_a_refused_connection_is_a_retryable_provider_error() -> None:
    provider = OpenAIProvider(provider="openai", api_key=KEY, base_url="http://127.0.0.1:9/v1")
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(_request("gpt-3.5-turbo-0125"))
    finally:
        await provider.aclose()
    assert caught.value.retryable


async def test_compatible_servers_get_max_tokens_and_no_response_format() -> None:
    provider = OpenAIProvider(provider="openai_compatible", api_key=KEY, base_url=None)
    official = OpenAIProvider(provider="openai", api_key=KEY, base_url=None)
    try:
        json_request = ChatRequest("m", None, "hi", 7, 0.5, 5.0, json_mode=True)
        assert provider.body(json_request) == {
            "messages": [{"role": "user", "content": "hi"}],
            "model": "m",
            "max_tokens": 7,
            "temperature": 0.5,
        }
        body = official.body(json_request)
        assert body["max_completion_tokens"] == 7
        assert body["response_format"] == {"type": "json_object"}
    finally:
        await provider.aclose()
        await official.aclose()


async def test_the_light_path_sends_what_the_sdk_sent(sim_url: str) -> None:
    """Auth and SDK headers are taken from the SDK's own request, never rebuilt."""
    provider = AnthropicProvider(api_key=KEY, base_url=sim_url)
    try:
        await provider.complete(_request("claude-3-haiku-20240307"))
        wire = provider._endpoint._wire
    finally:
        await provider.aclose()
    assert wire is not None
    url, request_head = wire
    assert str(url) == f"{sim_url}/v1/messages"
    request_line, *lines = request_head.decode("latin-1").split("\r\n")
    assert request_line == "POST /v1/messages HTTP/1.1"
    fields = [line.partition(":") for line in lines]
    lowered = {name.lower(): value.strip() for name, _, value in fields}
    assert KEY in (lowered.get("x-api-key") or lowered.get("authorization") or "")
    assert "anthropic-version" in lowered
    # the SDK's own Content-Length is not replayed: the head ends with the call's own
    assert [line for line in lines if line.lower().startswith("content-length")] == [
        "Content-Length: "
    ]


async def test_refused_credentials_are_not_retryable_and_go_back_to_the_sdk(sim_url: str) -> None:
    provider = OpenAIProvider(provider="openai", api_key=KEY, base_url=f"{sim_url}/v1")
    try:
        await provider.complete(_request("gpt-3.5-turbo-0125"))
        with pytest.raises(AuthenticationFailed) as caught:
            await provider.complete(_request("gpt-3.5-turbo-0125", "hi [[sim:fault=auth]]"))
        assert provider._endpoint._wire is None  # the next call authenticates afresh
        await provider.complete(_request("gpt-3.5-turbo-0125"))
        assert provider._endpoint._wire is not None
    finally:
        await provider.aclose()
    assert not caught.value.retryable


_LAZY = """
import sys
from llmrouter.router.config_loader import parse_config
from llmrouter.router.providers.pool import ProviderPool
import llmrouter.router, llmrouter.workers.launch
before = ("openai" in sys.modules, "anthropic" in sys.modules)
cfg = parse_config('''
version: 1
models:
  cheap: {provider: openai, model_id: gpt-4o-mini, input_usd_per_1k: 0.1, output_usd_per_1k: 0.1}
tasks:
  qa: {prompt: {template: "{question}"}, route: {strategy: static, model: cheap}}
''')
ProviderPool(cfg.models, simulator_url="http://127.0.0.1:9").client_for("cheap")
print(before, ("openai" in sys.modules, "anthropic" in sys.modules))
"""


def test_sdks_are_imported_only_for_the_providers_in_use() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LAZY], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(False,", "False)", "(True,", "False)"]


def test_error_tables_load_on_demand() -> None:
    from llmrouter.router.providers import errors

    assert errors.OPENAI_ERRORS[openai.RateLimitError] is RateLimited
    assert errors.ANTHROPIC_ERRORS[anthropic.OverloadedError] is ProviderUnavailable
    with pytest.raises(AttributeError):
        _ = errors.NOT_A_TABLE


async def _loop_name() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_workers_run_on_uvloop_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(eventloop.UVLOOP_ENV, raising=False)
    assert eventloop.run(_loop_name()).startswith("uvloop")
    monkeypatch.setenv(eventloop.UVLOOP_ENV, "0")
    assert eventloop.run(_loop_name()).startswith("asyncio")

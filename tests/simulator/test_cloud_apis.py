"""The Gemini, Vertex AI and Bedrock surfaces, driven through the real SDKs (google-genai,
anthropic's Bedrock and Vertex clients, aiobotocore), plus what the SDKs cannot show: an
unsigned Bedrock request is refused, and every call reaches the call journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import botocore.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import jsonschema
import orjson
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from llmrouter.simulator import SimConfig, create_app, engine_of, estimate_tokens, running

QUESTION = "How do I reset my password?"
SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["safe", "unsafe"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["label", "confidence"],
}


@pytest.fixture
async def sim() -> AsyncIterator[tuple[str, Any]]:
    app = create_app(SimConfig(latency_ms=0, seed=1))
    async with running(app=app) as url:
        yield url, engine_of(app)


def _gemini(url: str, key: str = "sk-test") -> genai.Client:
    options = types.HttpOptions(base_url=url, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key=key, http_options=options)


async def test_gemini_answers_with_thinking_tokens_apart(sim: tuple[str, Any]) -> None:
    url, engine = sim
    client = _gemini(url)
    try:
        response = await client.aio.models.generate_content(
            model="gemini-2.5-flash",
            contents=QUESTION,
            config=types.GenerateContentConfig(max_output_tokens=400),
        )
    finally:
        await client.aio.aclose()
    usage = response.usage_metadata
    assert usage is not None
    assert response.text
    assert usage.prompt_token_count == estimate_tokens(QUESTION)
    assert usage.candidates_token_count == estimate_tokens(response.text)
    # a thinking model: hidden reasoning reported apart from the visible answer
    assert usage.thoughts_token_count == 2 * estimate_tokens(response.text)
    rows = engine.journal.calls()
    assert [(r.api, r.model, r.outcome) for r in rows] == [("gemini", "gemini-2.5-flash", "ok")]


async def test_gemini_caches_a_long_prefix_implicitly(sim: tuple[str, Any]) -> None:
    url, _ = sim
    prefix = "Policy text that stays the same for every request. " * 120  # > 1024 tokens
    client = _gemini(url)
    try:
        first, second = [
            await client.aio.models.generate_content(
                model="gemini-2.0-flash", contents=prefix + question
            )
            for question in ("First question?", "Second question?")
        ]
    finally:
        await client.aio.aclose()
    assert first.usage_metadata is not None
    assert second.usage_metadata is not None
    assert not first.usage_metadata.cached_content_token_count
    cached = second.usage_metadata.cached_content_token_count
    assert cached is not None
    assert 1024 <= cached <= (second.usage_metadata.prompt_token_count or 0)


async def test_gemini_structured_answer_follows_the_schema(sim: tuple[str, Any]) -> None:
    url, _ = sim
    client = _gemini(url)
    try:
        response = await client.aio.models.generate_content(
            model="gemini-2.0-flash",
            contents="Is this comment safe? 'you are a complete idiot'",
            config=types.GenerateContentConfig(
                response_mime_type="application/json", response_json_schema=SCHEMA
            ),
        )
    finally:
        await client.aio.aclose()
    jsonschema.validate(orjson.loads(response.text or ""), SCHEMA)


async def test_gemini_errors_and_a_blocked_prompt(sim: tuple[str, Any]) -> None:
    url, _ = sim
    client = _gemini(url)
    bad_key = _gemini(url, key="sk-sim-invalid")
    try:
        with pytest.raises(genai_errors.ClientError) as rate:
            await client.aio.models.generate_content(
                model="gemini-2.0-flash", contents="[[sim:fault=429]] hi"
            )
        assert rate.value.code == 429
        assert rate.value.status == "RESOURCE_EXHAUSTED"
        with pytest.raises(genai_errors.ServerError) as overloaded:
            await client.aio.models.generate_content(
                model="gemini-2.0-flash", contents="[[sim:fault=529]] hi"
            )
        assert overloaded.value.code == 503
        blocked = await client.aio.models.generate_content(
            model="gemini-2.0-flash", contents="[[sim:fault=content_policy]] hi"
        )
        assert blocked.prompt_feedback is not None
        assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
        assert not blocked.candidates
        with pytest.raises(genai_errors.ClientError) as invalid:
            await bad_key.aio.models.generate_content(model="gemini-2.0-flash", contents="hi")
        assert invalid.value.code == 400
        assert "API key not valid" in (invalid.value.message or "")
    finally:
        await client.aio.aclose()
        await bad_key.aio.aclose()


async def test_gemini_on_vertex_needs_a_bearer_token(sim: tuple[str, Any]) -> None:
    url, engine = sim
    credentials = google.oauth2.credentials.Credentials(token="ya29.test")  # type: ignore[no-untyped-call]
    client = genai.Client(
        vertexai=True,
        project="proj",
        location="us-central1",
        credentials=credentials,
        http_options=types.HttpOptions(base_url=url),
    )
    try:
        response = await client.aio.models.generate_content(
            model="gemini-2.0-flash", contents=QUESTION
        )
    finally:
        await client.aio.aclose()
    assert response.text
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1beta1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        ) as unauthenticated,
    ):
        assert unauthenticated.status == 401
        assert (await unauthenticated.json())["error"]["status"] == "UNAUTHENTICATED"
    assert [r.outcome for r in engine.journal.calls()] == ["ok"]  # the refused one never ran


async def test_anthropic_on_bedrock_and_vertex(sim: tuple[str, Any]) -> None:
    url, engine = sim
    bedrock = anthropic.AsyncAnthropicBedrock(
        aws_region="us-east-1",
        aws_access_key="AKIDTEST",
        aws_secret_key="secret",
        base_url=url,
        max_retries=0,
    )
    vertex = anthropic.AsyncAnthropicVertex(
        region="us-east5", project_id="proj", access_token="ya29.test", base_url=f"{url}/v1"
    )
    try:
        clients: list[tuple[Any, str]] = [
            (bedrock, "anthropic.claude-3-5-haiku-20241022-v1:0"),
            (vertex, "claude-3-5-haiku@20241022"),
        ]
        for client, model in clients:
            message = await client.messages.create(
                model=model, max_tokens=200, messages=[{"role": "user", "content": QUESTION}]
            )
            assert message.usage.input_tokens == estimate_tokens(QUESTION)
            assert message.content[0].type == "text"
            forced = await client.messages.create(
                model=model,
                max_tokens=200,
                messages=[{"role": "user", "content": QUESTION}],
                tools=[{"name": "answer", "input_schema": SCHEMA}],
                tool_choice={"type": "tool", "name": "answer"},
            )
            block = forced.content[0]
            assert block.type == "tool_use"
            assert block.input["label"] in ("safe", "unsafe")
        with pytest.raises(anthropic.RateLimitError):
            await bedrock.messages.create(
                model="anthropic.claude-3-5-haiku-20241022-v1:0",
                max_tokens=50,
                messages=[{"role": "user", "content": "[[sim:fault=429]] hi"}],
            )
    finally:
        await bedrock.close()
        await vertex.close()
    apis = [r.api for r in engine.journal.calls()]
    # Vertex AI's calls apart from Anthropic's own (Google bills them)
    assert apis == ["bedrock", "bedrock", "vertex", "vertex", "bedrock"]


async def test_bedrock_refuses_an_unsigned_request(sim: tuple[str, Any]) -> None:
    url, engine = sim
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    async with aiohttp.ClientSession() as http:
        for path in ("converse", "invoke"):
            async with http.post(f"{url}/model/amazon.nova-lite-v1:0/{path}", json=body) as resp:
                assert resp.status == 403
                assert resp.headers["x-amzn-ErrorType"].startswith(
                    "MissingAuthenticationTokenException"
                )
    assert engine.journal.calls() == []


async def _converse(url: str, **kwargs: Any) -> dict[str, Any]:
    session = get_session()
    async with session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=kwargs.pop("access_key", "AKIDTEST"),
        aws_secret_access_key="secret",
        config=AioConfig(retries={"total_max_attempts": 1}),
    ) as client:
        answer: dict[str, Any] = await client.converse(**kwargs)
        return answer


async def test_converse_answers_caches_and_forces_a_tool(sim: tuple[str, Any]) -> None:
    url, engine = sim
    prefix = "Policy text that stays the same for every request. " * 120
    messages = [
        {
            "role": "user",
            "content": [{"text": prefix}, {"cachePoint": {"type": "default"}}, {"text": QUESTION}],
        }
    ]
    first = await _converse(url, modelId="amazon.nova-lite-v1:0", messages=messages)
    second = await _converse(url, modelId="amazon.nova-lite-v1:0", messages=messages)
    assert first["output"]["message"]["content"][0]["text"]
    assert first["usage"]["cacheWriteInputTokens"] > 1000
    assert first["usage"]["cacheReadInputTokens"] == 0
    assert second["usage"]["cacheReadInputTokens"] == first["usage"]["cacheWriteInputTokens"]
    total = estimate_tokens(f"{prefix}\n{QUESTION}")
    assert second["usage"]["inputTokens"] + second["usage"]["cacheReadInputTokens"] == total
    tool = await _converse(
        url,
        modelId="amazon.nova-lite-v1:0",
        messages=[{"role": "user", "content": [{"text": QUESTION}]}],
        toolConfig={
            "tools": [{"toolSpec": {"name": "answer", "inputSchema": {"json": SCHEMA}}}],
            "toolChoice": {"tool": {"name": "answer"}},
        },
    )
    assert tool["stopReason"] == "tool_use"
    assert tool["output"]["message"]["content"][0]["toolUse"]["input"]["label"] in (
        "safe",
        "unsafe",
    )
    assert [r.api for r in engine.journal.calls()] == ["bedrock"] * 3


async def test_converse_faults_are_bedrock_errors(sim: tuple[str, Any]) -> None:
    url, _ = sim
    hi = [{"role": "user", "content": [{"text": "[[sim:fault=429]] hi"}]}]
    with pytest.raises(botocore.exceptions.ClientError) as throttled:
        await _converse(url, modelId="amazon.nova-lite-v1:0", messages=hi)
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        await _converse(
            url,
            modelId="amazon.nova-lite-v1:0",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
            access_key="sk-sim-invalid",
        )
    assert denied.value.response["Error"]["Code"] == "UnrecognizedClientException"
    filtered = await _converse(
        url,
        modelId="amazon.nova-lite-v1:0",
        messages=[{"role": "user", "content": [{"text": "[[sim:fault=content_policy]] hi"}]}],
    )
    assert filtered["stopReason"] == "content_filtered"


async def test_the_token_endpoint_refreshes_google_credentials(sim: tuple[str, Any]) -> None:
    url, _ = sim
    credentials = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token="refresh-me",
        client_id="client",
        client_secret="secret",
        token_uri=f"{url}/token",
    )
    # google-auth's transport is blocking: refresh off the loop that serves the simulator
    await asyncio.to_thread(credentials.refresh, google.auth.transport.requests.Request())
    assert credentials.token
    assert credentials.token.startswith("ya29.sim-")

"""`POST /v1/chat/completions`: the OpenAI Chat Completions wire format.

Bodies, error shapes and status codes follow the real API: errors are
`{"error": {"message", "type", "param", "code"}}`; 429 carries `retry-after`,
`retry-after-ms` and `x-ratelimit-*` headers; an overloaded fault is the 503 OpenAI sends
("The engine is currently overloaded"), since OpenAI has no 529. `stream: true` answers
with `chat.completion.chunk` server-sent events ending in `data: [DONE]`.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from aiohttp import web

from llmrouter.simulator import structured, transport
from llmrouter.simulator.answers import Prompt
from llmrouter.simulator.engine import Call, Engine, Failure, Reply, RequestError, api_key_of
from llmrouter.simulator.faults import DirectiveError, Fault
from llmrouter.simulator.keys import ENGINE

_FINGERPRINT = "fp_simulator"
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)


def _error(
    status: int,
    message: str,
    type_: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    all_headers = {"x-request-id": transport.new_id("req_")}
    if headers:
        all_headers.update(headers)
    return transport.json_response(body, status, all_headers)


def _text_of(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    raise RequestError(f"Invalid type for '{where}': expected a string or an array.", where)


def parse(body: dict[str, Any]) -> tuple[Call, bool, bool]:
    """(call, stream, include_usage) of a chat completions body; raise RequestError."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RequestError(
                f"Missing required parameter: 'messages[{i}].role'.",
                f"messages[{i}].role",
                "missing_required_parameter",
            )
        role = message["role"]
        text = _text_of(message.get("content"), f"messages[{i}].content")
        if role in ("system", "developer"):
            system.append(text)
        else:
            turns.append((role, text))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise RequestError(
            f"Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, "
            f"but got {max_tokens!r} instead.",
            "max_tokens",
            "integer_below_min_value",
        )
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(s for s in stop or () if isinstance(s, str))
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    call = Call(
        api="openai",
        model=model,
        prompt=Prompt(system="\n".join(system), messages=tuple(turns)),
        max_tokens=max_tokens,
        stop=stops,
    )
    return call, bool(body.get("stream")), include_usage


def _retry_headers(seconds: float) -> dict[str, str]:
    return {
        "retry-after": f"{seconds:g}",
        "retry-after-ms": str(math.ceil(seconds * 1000)),
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": f"{seconds:g}s",
    }


def failure_response(failure: Failure, model: str) -> web.Response:
    fault = failure.fault
    if fault is Fault.RATE_LIMIT:
        wait = failure.retry_after_s
        return _error(
            429,
            f"Rate limit reached for {model} in organization org-simulator on requests per min "
            f"(RPM): Limit 500, Used 500, Requested 1. Please try again in {wait:g}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            "requests",
            code="rate_limit_exceeded",
            headers=_retry_headers(wait),
        )
    if fault is Fault.SERVER_ERROR:
        return _error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        )
    if fault is Fault.OVERLOADED:
        return _error(
            503, "The engine is currently overloaded, please try again later.", "server_error"
        )
    if fault is Fault.CONTEXT_LENGTH:
        return _error(
            400,
            f"This model's maximum context length is {failure.context_window} tokens. However, "
            f"your messages resulted in {failure.prompt_tokens} tokens. Please reduce the "
            "length of the messages.",
            "invalid_request_error",
            param="messages",
            code="context_length_exceeded",
        )
    if fault is Fault.CONTENT_POLICY:
        return _error(
            400,
            "Your request was rejected as a result of our safety system. Your prompt may "
            "contain text that is not allowed by our safety system.",
            "invalid_request_error",
            code="content_policy_violation",
        )
    if fault is Fault.AUTH:
        return _error(
            401,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            code="invalid_api_key",
        )
    # MALFORMED: a 200 whose JSON body stops half-way.
    broken = (
        b'{"id": "'
        + transport.new_id("chatcmpl-").encode()
        + b'", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "The answ'
    )
    return web.Response(body=broken, status=200, content_type=transport.JSON)


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache.read_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _finish_reason(reply: Reply) -> str:
    return "length" if reply.finish == "length" else "stop"


def reply_body(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": transport.new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": reply.text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": _finish_reason(reply),
            }
        ],
        "usage": _usage(reply),
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }


def _chunks(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def _stream(
    request: web.Request, reply: Reply, model: str, include_usage: bool, headers: dict[str, str]
) -> web.StreamResponse:
    response = await transport.open_sse(request, headers)
    base = {
        "id": transport.new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": _FINGERPRINT,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return transport.sse_event({**base, "choices": [choice]})

    parts = [chunk({"role": "assistant", "content": "", "refusal": None})]
    parts.extend(chunk({"content": piece}) for piece in _chunks(reply.text))
    parts.append(chunk({}, _finish_reason(reply)))
    if include_usage:
        parts.append(transport.sse_event({**base, "choices": [], "usage": _usage(reply)}))
    parts.append(transport.sse_event(b"[DONE]"))
    await response.write(b"".join(parts))
    await response.write_eof()
    return response


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _chat(request, deployment=None)


async def azure_chat_completions(request: web.Request) -> web.StreamResponse:
    """Azure OpenAI's `/openai/deployments/{deployment}/chat/completions?api-version=...`
    with its `api-key` header. The deployment is the model unless the body names one."""
    if not request.query.get("api-version"):
        return _azure_error(404, "404", "Resource not found")
    if api_key_of(request.headers) is None:
        return _azure_error(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
            "to provide a valid key for an active subscription and use a correct regional "
            "API endpoint for your resource.",
        )
    return await _chat(request, deployment=request.match_info["deployment"])


def _azure_error(status: int, code: str, message: str) -> web.Response:
    return transport.json_response({"error": {"code": code, "message": message}}, status=status)


async def _chat(request: web.Request, deployment: str | None) -> web.StreamResponse:
    engine: Engine = request.app[ENGINE]
    try:
        body = transport.parse_json(await request.read())
    except ValueError:
        body = None
    if deployment is not None and isinstance(body, dict) and not body.get("model"):
        body["model"] = deployment
    raw_model = body.get("model") if isinstance(body, dict) else None
    model = raw_model if isinstance(raw_model, str) and raw_model else "unknown"
    denied = engine.authorize("openai", model, request.headers)
    if denied is not None:
        return failure_response(denied, model)
    if not isinstance(body, dict):
        engine.invalid("openai", model)
        return _error(400, _BAD_JSON, "invalid_request_error")
    try:
        call, stream, include_usage = parse(body)
        directive, prompt = engine.directive(request.headers, call.prompt)
    except RequestError as exc:
        engine.invalid("openai", model)
        return _error(400, exc.message, "invalid_request_error", param=exc.param, code=exc.code)
    except DirectiveError as exc:
        engine.invalid("openai", model)
        return _error(400, f"simulator: {exc}", "invalid_request_error")
    started = time.perf_counter()
    outcome = await engine.run(replace(call, prompt=prompt), directive)
    if isinstance(outcome, Failure):
        if outcome.fault is Fault.HANG:
            return await transport.hang(request, engine.config.hang_cap_s, lambda: engine.closing)
        return failure_response(outcome, model)
    headers = {
        "x-request-id": transport.new_id("req_"),
        "openai-processing-ms": str(int((time.perf_counter() - started) * 1000)),
    }
    outcome = structured.shaped(outcome, structured.openai_schema(body))  # json_schema
    if stream:
        return await _stream(request, outcome, model, include_usage, headers)
    return transport.json_response(reply_body(outcome, model), headers=headers)

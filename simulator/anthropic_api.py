"""`POST /v1/messages`: the Anthropic Messages wire format.

Errors are `{"type": "error", "error": {"type", "message"}, "request_id"}` with the real
status codes: 401 authentication_error, 429 rate_limit_error (with `retry-after` and
`anthropic-ratelimit-*` headers), 500 api_error, 529 overloaded_error, 400
invalid_request_error ("prompt is too long: N tokens > M maximum"). `max_tokens` is
required, as in the real API. `stream: true` answers with the Messages event stream
(message_start ... message_stop).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from aiohttp import web

from llmrouter.simulator import structured, transport
from llmrouter.simulator.answers import Prompt
from llmrouter.simulator.engine import Call, Engine, Failure, Reply, RequestError
from llmrouter.simulator.faults import DirectiveError, Fault
from llmrouter.simulator.keys import ENGINE
from llmrouter.simulator.prompt_cache import TTL_1H_S, TTL_5M_S, Breakpoint

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}


def _error(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    request_id = transport.new_id("req_")
    body = {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id}
    all_headers = {"request-id": request_id}
    if headers:
        all_headers.update(headers)
    return transport.json_response(body, status, all_headers)


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if not isinstance(block, dict):
                raise RequestError(f"{where}: Input should be a valid dictionary")
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                parts.append(_text_of(block.get("content", ""), where))
        return "\n".join(parts)
    raise RequestError(f"{where}: Input should be a valid string or list of content blocks")


def parse(body: dict[str, Any]) -> tuple[Call, bool]:
    """(call, stream) of a Messages body; raise RequestError like the real API."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model: Field required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise RequestError("max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise RequestError("max_tokens: Input should be greater than or equal to 1")
    messages = body.get("messages")
    if messages is None:
        raise RequestError("messages: Field required")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message is required")
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise RequestError(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        turns.append(
            (message["role"], _text_of(message.get("content", ""), f"messages.{i}.content"))
        )
    system = body.get("system")
    stops = body.get("stop_sequences") or ()
    breakpoints = _breakpoints(system, messages)
    call = Call(
        api="anthropic",
        model=model,
        prompt=Prompt(system=_text_of(system, "system") if system else "", messages=tuple(turns)),
        max_tokens=max_tokens,
        stop=tuple(s for s in stops if isinstance(s, str)),
        cache_breakpoints=breakpoints,
    )
    return call, bool(body.get("stream"))


def _ttl_s(block: dict[str, Any]) -> float | None:
    """The TTL of a block's `cache_control` (5 minutes unless `"ttl": "1h"`), or None."""
    control = block.get("cache_control")
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        return None
    return TTL_1H_S if control.get("ttl") == "1h" else TTL_5M_S


def _block_texts(content: Any) -> list[tuple[str, float | None]]:
    """(text, cache TTL) of each block of a system prompt or message content."""
    if isinstance(content, str):
        return [(content, None)]
    if not isinstance(content, list):
        return []
    out: list[tuple[str, float | None]] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") in ("text", "tool_result"):
            text = block.get("text", "")
            if block.get("type") == "tool_result":
                text = _text_of(block.get("content", ""), "content")
            out.append((str(text), _ttl_s(block)))
    return out


def _breakpoints(system: Any, messages: list[Any]) -> tuple[Breakpoint, ...]:
    """The `cache_control` marks as character offsets into the prompt text (system and
    messages joined by newlines, each message's blocks too: `Prompt.text`)."""
    parts = [_block_texts(system)] if system else []
    parts.extend(_block_texts(m.get("content", "")) for m in messages)
    marks: list[Breakpoint] = []
    offset = 0
    for i, blocks in enumerate(parts):
        if i:
            offset += 1  # the newline between parts
        for j, (text, ttl_s) in enumerate(blocks):
            if j:
                offset += 1  # the newline between blocks
            offset += len(text)
            if ttl_s is not None:
                marks.append(Breakpoint(offset, ttl_s))
    return tuple(marks)


def failure_response(failure: Failure) -> web.Response:
    fault = failure.fault
    if fault is Fault.RATE_LIMIT:
        wait = failure.retry_after_s
        return _error(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization of 50 requests "
            "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. "
            "You can see the response headers for current usage. Please reduce the prompt "
            "length or the maximum tokens requested, or try again later.",
            {
                "retry-after": f"{wait:g}",
                "retry-after-ms": str(math.ceil(wait * 1000)),
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
            },
        )
    if fault is Fault.SERVER_ERROR:
        return _error(500, "api_error", "Internal server error")
    if fault is Fault.OVERLOADED:
        return _error(529, "overloaded_error", "Overloaded")
    if fault is Fault.CONTEXT_LENGTH:
        return _error(
            400,
            "invalid_request_error",
            f"prompt is too long: {failure.prompt_tokens} tokens > "
            f"{failure.context_window} maximum",
        )
    if fault is Fault.CONTENT_POLICY:
        return _error(400, "invalid_request_error", "Output blocked by content filtering policy")
    if fault is Fault.AUTH:
        return _error(401, "authentication_error", "invalid x-api-key")
    # MALFORMED: a 200 whose JSON body stops half-way.
    broken = (
        b'{"id": "'
        + transport.new_id("msg_").encode()
        + b'", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "The answ'
    )
    return web.Response(body=broken, status=200, content_type=transport.JSON)


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    """Anthropic counts cache reads and writes apart from `input_tokens`."""
    cache = reply.cache
    return {
        "input_tokens": reply.prompt_tokens - cache.read_tokens - cache.write_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache.write_tokens,
        "cache_read_input_tokens": cache.read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache.write_5m_tokens,
            "ephemeral_1h_input_tokens": cache.write_1h_tokens,
        },
        "service_tier": "standard",
    }


def reply_body(reply: Reply, model: str, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": _STOP_REASONS[reply.finish],
        "stop_sequence": reply.stop_sequence,
        "usage": _usage(reply, reply.completion_tokens),
    }


async def _stream(
    request: web.Request, reply: Reply, model: str, message_id: str, headers: dict[str, str]
) -> web.StreamResponse:
    response = await transport.open_sse(request, headers)
    start = reply_body(reply, model, message_id)
    start.update(content=[], stop_reason=None, stop_sequence=None, usage=_usage(reply, 1))
    text = reply.text
    events = [
        transport.sse_event({"type": "message_start", "message": start}, "message_start"),
        transport.sse_event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
        transport.sse_event({"type": "ping"}, "ping"),
    ]
    events.extend(
        transport.sse_event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text[i : i + 24]},
            },
            "content_block_delta",
        )
        for i in range(0, len(text), 24)
    )
    events.append(
        transport.sse_event({"type": "content_block_stop", "index": 0}, "content_block_stop")
    )
    events.append(
        transport.sse_event(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": _STOP_REASONS[reply.finish],
                    "stop_sequence": reply.stop_sequence,
                },
                "usage": {"output_tokens": reply.completion_tokens},
            },
            "message_delta",
        )
    )
    events.append(transport.sse_event({"type": "message_stop"}, "message_stop"))
    await response.write(b"".join(events))
    await response.write_eof()
    return response


async def messages(request: web.Request) -> web.StreamResponse:
    engine: Engine = request.app[ENGINE]
    try:
        body = transport.parse_json(await request.read())
    except ValueError:
        body = None
    raw_model = body.get("model") if isinstance(body, dict) else None
    model = raw_model if isinstance(raw_model, str) and raw_model else "unknown"
    denied = engine.authorize("anthropic", model, request.headers)
    if denied is not None:
        return failure_response(denied)
    if not isinstance(body, dict):
        engine.invalid("anthropic", model)
        return _error(400, "invalid_request_error", "The request body is not valid JSON.")
    try:
        call, stream = parse(body)
        directive, prompt = engine.directive(request.headers, call.prompt)
    except RequestError as exc:
        engine.invalid("anthropic", model)
        return _error(400, "invalid_request_error", exc.message)
    except DirectiveError as exc:
        engine.invalid("anthropic", model)
        return _error(400, "invalid_request_error", f"simulator: {exc}")
    outcome = await engine.run(replace(call, prompt=prompt), directive)
    if isinstance(outcome, Failure):
        if outcome.fault is Fault.HANG:
            return await transport.hang(request, engine.config.hang_cap_s, lambda: engine.closing)
        return failure_response(outcome)
    message_id = transport.new_id("msg_")
    headers = {"request-id": transport.new_id("req_")}
    if stream:
        return await _stream(request, outcome, model, message_id, headers)
    answer = structured.anthropic_reply(body, outcome, reply_body(outcome, model, message_id))
    return transport.json_response(answer, headers=headers)  # a forced tool's call, if any

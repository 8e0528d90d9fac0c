"""Amazon Bedrock's runtime: `POST /model/{modelId}/invoke` (an Anthropic model's Messages
body with an `anthropic_version` and no `model`, as `AnthropicBedrock` sends it) and
`POST /model/{modelId}/converse` (the Converse API any Bedrock model speaks).

Every request needs an `Authorization` header: a SigV4 signature (`AWS4-HMAC-SHA256
Credential=...`, any signature accepted; the access key `sk-sim-invalid` is refused) or a
Bedrock API key (`Bearer ...`); without one the answer is 403
MissingAuthenticationTokenException. Errors are Bedrock's: the status, the
`x-amzn-ErrorType` header and `{"message": ...}` (429 ThrottlingException, 500
InternalServerException, 503 ServiceUnavailableException, 400 ValidationException, 403
AccessDeniedException). Converse reports `usage.inputTokens` without the prompt cache's
part, `cacheReadInputTokens` and `cacheWriteInputTokens` beside it (a `cachePoint` block
marks a prefix to cache, as Anthropic's `cache_control` does); a content policy fault is a
200 with `stopReason: content_filtered`. A forced tool (`toolChoice.tool`) is answered by
a `toolUse` block whose input is the structured answer (structured.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from llmrouter.simulator import anthropic_api, structured, transport
from llmrouter.simulator.answers import Prompt
from llmrouter.simulator.engine import INVALID_KEY, Call, Engine, Failure, Reply, RequestError
from llmrouter.simulator.faults import Fault
from llmrouter.simulator.keys import ENGINE
from llmrouter.simulator.prompt_cache import TTL_5M_S, Breakpoint
from llmrouter.simulator.protocol import run_call

__all__ = ["add_routes"]

_STOP = {"stop": "end_turn", "length": "max_tokens", "stop_sequence": "stop_sequence"}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/model/{model}/invoke", _invoke)
    app.router.add_post("/model/{model}/converse", _converse)


def error(status: int, type_: str, message: str) -> web.Response:
    headers = {
        "x-amzn-ErrorType": f"{type_}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": transport.new_id("req-"),
    }
    return transport.json_response({"message": message}, status, headers)


def _denied(request: web.Request) -> web.Response | None:
    auth = request.headers.get("authorization", "")
    if auth.startswith("AWS4-HMAC-SHA256 ") and "Credential=" in auth and "Signature=" in auth:
        access_key = auth.split("Credential=", 1)[1].split("/", 1)[0]
        if access_key == INVALID_KEY:
            return error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        return None
    if auth.lower().startswith("bearer ") and auth[7:].strip() != INVALID_KEY:
        return None
    return error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def failure_response(failure: Failure) -> web.Response:
    fault = failure.fault
    if fault is Fault.RATE_LIMIT:
        return error(
            429, "ThrottlingException", "Too many requests, please wait before trying again."
        )
    if fault is Fault.SERVER_ERROR:
        return error(500, "InternalServerException", "The server encountered an internal error.")
    if fault is Fault.OVERLOADED:
        return error(
            503, "ServiceUnavailableException", "Bedrock is unable to process your request."
        )
    if fault is Fault.CONTEXT_LENGTH:
        return error(
            400,
            "ValidationException",
            f"Input is too long for requested model: {failure.prompt_tokens} tokens > "
            f"{failure.context_window} maximum",
        )
    if fault is Fault.CONTENT_POLICY:
        return error(400, "ValidationException", "Output blocked by content filtering policy")
    if fault is Fault.AUTH:
        return error(403, "AccessDeniedException", "You don't have access to the model.")
    broken = b'{"output": {"message": {"role": "assistant", "content": [{"text": "The answ'
    return web.Response(body=broken, status=200, content_type=transport.JSON)


async def _body(request: web.Request) -> Any:
    try:
        body = transport.parse_json(await request.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RequestError("Malformed input request, please reformat your input and try again.")
    return body


async def _invoke(request: web.Request) -> web.StreamResponse:
    """An Anthropic model on Bedrock: the Messages body without `model`, the answer as the
    Anthropic API gives it."""
    engine: Engine = request.app[ENGINE]
    model = request.match_info["model"]
    denied = _denied(request)
    if denied is not None:
        return denied
    try:
        body = await _body(request)
        if not isinstance(body.get("anthropic_version"), str):
            raise RequestError("anthropic_version: Field required")
        call, _stream = anthropic_api.parse({**body, "model": model})
        outcome = await run_call(request, replace(call, api="bedrock"))
    except RequestError as exc:
        engine.invalid("bedrock", model)
        return error(400, "ValidationException", exc.message)
    if isinstance(outcome, web.Response):
        return outcome
    if isinstance(outcome, Failure):
        return failure_response(outcome)
    answer = anthropic_api.reply_body(outcome, model, transport.new_id("msg_bdrk_"))
    return transport.json_response(structured.anthropic_reply(body, outcome, answer))


def _blocks_text(blocks: Any, where: str) -> tuple[list[str], list[bool]]:
    """The texts of Converse content blocks, and for each whether a cachePoint follows it."""
    if not isinstance(blocks, list):
        raise RequestError(f"{where}: expected a list of content blocks")
    texts: list[str] = []
    marks: list[bool] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise RequestError(f"{where}: expected content block objects")
        if "text" in block:
            texts.append(str(block["text"]))
            marks.append(False)
        elif "cachePoint" in block and marks:
            marks[-1] = True
    return texts, marks


def parse_converse(
    model: str, body: dict[str, Any]
) -> tuple[Call, tuple[str, dict[str, Any]] | None]:
    """(call, the forced tool's name and input schema, if any) of a Converse body."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message is required")
    parts: list[tuple[list[str], list[bool]]] = []
    system = body.get("system") or []
    system_texts, system_marks = _blocks_text(system, "system")
    if system_texts:
        parts.append((system_texts, system_marks))
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise RequestError(f"messages.{i}.role: must be user or assistant")
        texts, marks = _blocks_text(message.get("content"), f"messages.{i}.content")
        parts.append((texts, marks))
        turns.append((message["role"], "\n".join(texts)))
    # cache points as character offsets into the prompt text (parts and blocks joined by
    # newlines, as Prompt.text joins them)
    breakpoints: list[Breakpoint] = []
    offset = 0
    for i, (texts, marks) in enumerate(parts):
        offset += 1 if i else 0
        for j, (text, marked) in enumerate(zip(texts, marks, strict=True)):
            offset += (1 if j else 0) + len(text)
            if marked:
                breakpoints.append(Breakpoint(offset, TTL_5M_S))
    config = body.get("inferenceConfig") or {}
    max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise RequestError("inferenceConfig.maxTokens: must be at least 1")
    stops = config.get("stopSequences") or () if isinstance(config, dict) else ()
    call = Call(
        api="bedrock",
        model=model,
        prompt=Prompt(system="\n".join(system_texts), messages=tuple(turns)),
        max_tokens=max_tokens,
        stop=tuple(s for s in stops if isinstance(s, str)),
        cache_breakpoints=tuple(breakpoints),
    )
    return call, _forced_tool(body.get("toolConfig"))


def _forced_tool(config: Any) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(config, dict):
        return None
    choice = config.get("toolChoice") or {}
    name = (choice.get("tool") or {}).get("name") if isinstance(choice, dict) else None
    for tool in config.get("tools") or ():
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and spec.get("name") == name:
            schema = (spec.get("inputSchema") or {}).get("json")
            return str(name), schema if isinstance(schema, dict) else {}
    return None


def converse_body(reply: Reply, forced: tuple[str, dict[str, Any]] | None) -> dict[str, Any]:
    cache = reply.cache
    content: list[dict[str, Any]]
    stop = _STOP[reply.finish]
    if forced is not None:
        name, schema = forced
        use = {"toolUseId": "tooluse_sim", "name": name}
        content = [{"toolUse": {**use, "input": structured.answer_object(reply, schema)}}]
        stop = "tool_use"
    else:
        content = [{"text": structured.answer_text(reply, None)}]
    uncached = reply.prompt_tokens - cache.read_tokens - cache.write_tokens
    usage = {
        "inputTokens": uncached,
        "outputTokens": reply.completion_tokens,
        "totalTokens": reply.prompt_tokens + reply.completion_tokens,
        "cacheReadInputTokens": cache.read_tokens,
        "cacheWriteInputTokens": cache.write_tokens,
    }
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage,
        "metrics": {"latencyMs": 0},
    }


async def _converse(request: web.Request) -> web.StreamResponse:
    engine: Engine = request.app[ENGINE]
    model = request.match_info["model"]
    denied = _denied(request)
    if denied is not None:
        return denied
    try:
        body = await _body(request)
        call, forced = parse_converse(model, body)
        outcome = await run_call(request, call)
    except RequestError as exc:
        engine.invalid("bedrock", model)
        return error(400, "ValidationException", exc.message)
    if isinstance(outcome, web.Response):
        return outcome
    if isinstance(outcome, Failure):
        if outcome.fault is Fault.CONTENT_POLICY:
            return transport.json_response(
                {
                    "output": {"message": {"role": "assistant", "content": []}},
                    "stopReason": "content_filtered",
                    "usage": {"inputTokens": outcome.prompt_tokens, "outputTokens": 0},
                    "metrics": {"latencyMs": 0},
                }
            )
        return failure_response(outcome)
    return transport.json_response(converse_body(outcome, forced))

"""Gemini's `generateContent`, on the Gemini API and on Vertex AI.

| route | auth |
| --- | --- |
| `POST /v1beta/models/{model}:generateContent` (also `/v1/...`) | `x-goog-api-key` (else 403 PERMISSION_DENIED) |
| `POST /v1[beta1]/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent` | `Authorization: Bearer` (else 401 UNAUTHENTICATED) |

Bodies and answers follow the REST API (camelCase; snake_case is accepted too):
`contents`, `systemInstruction`, `generationConfig` (`maxOutputTokens`, `stopSequences`,
`responseMimeType`, `responseSchema` / `responseJsonSchema`). `usageMetadata` reports
`promptTokenCount` (cached tokens included), `cachedContentTokenCount` (implicit prefix
caching, as OpenAI's: prompts of 1024 tokens and more), `candidatesTokenCount` (the visible
answer) and `thoughtsTokenCount` (a thinking model's hidden reasoning; Gemini 2.5 and later
think by default). Errors are Google's `{"error": {"code", "message", "status"}}`; a content
policy fault is a prompt blocked for SAFETY (`promptFeedback.blockReason`), answered 200 as
the real API does; the key `sk-sim-invalid` is Gemini's 400 API_KEY_INVALID.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from llmrouter.simulator import structured, transport
from llmrouter.simulator.answers import Prompt
from llmrouter.simulator.engine import INVALID_KEY, Call, Engine, Failure, Reply, RequestError
from llmrouter.simulator.faults import Fault
from llmrouter.simulator.keys import ENGINE
from llmrouter.simulator.protocol import run_call

__all__ = ["add_routes"]

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "stop_sequence": "STOP"}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"} | {
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def add_routes(app: web.Application) -> None:
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{version}/models/{{model}}:generateContent", _gemini_api)
    for version in ("v1", "v1beta1"):
        app.router.add_post(
            f"/{version}/projects/{{project}}/locations/{{location}}/publishers/google/models/"
            "{model}:generateContent",
            _vertex,
        )


def error(status: int, message: str, reason: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": status, "message": message, "status": _STATUS[status]}
    if reason is not None:
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return transport.json_response({"error": body}, status)


async def _gemini_api(request: web.Request) -> web.StreamResponse:
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        return error(403, "Method doesn't allow unregistered callers.")
    if key == INVALID_KEY:
        return error(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
    return await _generate(request)


async def _vertex(request: web.Request) -> web.StreamResponse:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or auth[7:].strip() == INVALID_KEY:
        return error(401, "Request had invalid authentication credentials.")
    return await _generate(request)


def _text(parts: Any, where: str) -> str:
    if not isinstance(parts, list):
        raise RequestError(f"{where}: expected a list of parts")
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _get(body: dict[str, Any], camel: str, snake: str) -> Any:
    return body.get(camel, body.get(snake))


def parse(model: str, body: dict[str, Any]) -> tuple[Call, dict[str, Any] | None]:
    """(call, the answer's JSON schema if one was asked for) of a generateContent body."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RequestError("* GenerateContentRequest.contents: contents is not specified")
    turns: list[tuple[str, str]] = []
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise RequestError(f"contents[{i}]: expected an object")
        role = "assistant" if content.get("role") == "model" else "user"
        turns.append((role, _text(content.get("parts", []), f"contents[{i}].parts")))
    system = _get(body, "systemInstruction", "system_instruction")
    system_text = _text(system.get("parts", []), "systemInstruction") if system else ""
    config = _get(body, "generationConfig", "generation_config") or {}
    if not isinstance(config, dict):
        raise RequestError("generationConfig: expected an object")
    max_tokens = _get(config, "maxOutputTokens", "max_output_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise RequestError("generationConfig.maxOutputTokens: must be a positive integer")
    stops = _get(config, "stopSequences", "stop_sequences") or ()
    schema = _get(config, "responseJsonSchema", "response_json_schema") or _get(
        config, "responseSchema", "response_schema"
    )
    call = Call(
        api="gemini",
        model=model,
        prompt=Prompt(system=system_text, messages=tuple(turns)),
        max_tokens=max_tokens,
        stop=tuple(s for s in stops if isinstance(s, str)),
    )
    return call, schema if isinstance(schema, dict) else None


def failure_response(failure: Failure, model: str) -> web.Response:
    fault = failure.fault
    if fault is Fault.RATE_LIMIT:
        return error(429, "Resource has been exhausted (e.g. check quota).")
    if fault is Fault.SERVER_ERROR:
        return error(500, "An internal error has occurred. Please retry or report.")
    if fault is Fault.OVERLOADED:
        return error(503, "The model is overloaded. Please try again later.")
    if fault is Fault.CONTEXT_LENGTH:
        return error(
            400,
            f"The input token count ({failure.prompt_tokens}) exceeds the maximum number of "
            f"tokens allowed ({failure.context_window}).",
        )
    if fault is Fault.CONTENT_POLICY:
        return transport.json_response(
            {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                "usageMetadata": {"promptTokenCount": failure.prompt_tokens},
                "modelVersion": model,
            }
        )
    if fault is Fault.AUTH:
        return error(401, "Request had invalid authentication credentials.")
    broken = b'{"candidates": [{"content": {"parts": [{"text": "The answ'
    return web.Response(body=broken, status=200, content_type=transport.JSON)


def usage_metadata(reply: Reply) -> dict[str, Any]:
    visible = reply.completion_tokens - reply.reasoning_tokens
    usage: dict[str, Any] = {
        "promptTokenCount": reply.prompt_tokens,
        "candidatesTokenCount": visible,
        "totalTokenCount": reply.prompt_tokens + reply.completion_tokens,
    }
    if reply.cache.read_tokens:
        usage["cachedContentTokenCount"] = reply.cache.read_tokens
    if reply.reasoning_tokens:
        usage["thoughtsTokenCount"] = reply.reasoning_tokens
    return usage


def reply_body(reply: Reply, model: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    text = structured.answer_text(reply, schema)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": _FINISH[reply.finish],
                "index": 0,
            }
        ],
        "usageMetadata": usage_metadata(reply),
        "modelVersion": model,
        "responseId": transport.new_id("gem-"),
    }


async def _generate(request: web.Request) -> web.StreamResponse:
    engine: Engine = request.app[ENGINE]
    model = request.match_info["model"]
    try:
        body = transport.parse_json(await request.read())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        engine.invalid("gemini", model)
        return error(400, "Invalid JSON payload received.")
    try:
        call, schema = parse(model, body)
        outcome = await run_call(request, call)
    except RequestError as exc:
        engine.invalid("gemini", model)
        return error(400, exc.message)
    if isinstance(outcome, web.Response):
        return outcome
    if isinstance(outcome, Failure):
        return failure_response(outcome, model)
    return transport.json_response(reply_body(outcome, model, schema))

"""Anthropic models on Vertex AI: `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/
models/{model}:rawPredict`, the Messages body without `model` and with an
`anthropic_version`, as `AnthropicVertex` sends it; the answer and the errors are the
Anthropic API's. It needs `Authorization: Bearer <token>` (else 401), and
`POST /token` answers Google's OAuth token exchange (any JWT assertion or refresh token),
so google-auth's own credentials (a service-account or authorized-user file whose
`token_uri` is this URL) work against the simulator without a network.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from llmrouter.simulator import anthropic_api, structured, transport
from llmrouter.simulator.engine import INVALID_KEY, Engine, Failure, RequestError
from llmrouter.simulator.keys import ENGINE
from llmrouter.simulator.protocol import run_call

__all__ = ["TOKEN_PATH", "add_routes"]

#: Google's OAuth token endpoint, as a `token_uri` of credentials pointed at the simulator
TOKEN_PATH = "/token"


def add_routes(app: web.Application) -> None:
    for version in ("v1", "v1beta1"):
        app.router.add_post(
            f"/{version}/projects/{{project}}/locations/{{location}}/publishers/anthropic/"
            "models/{model}:rawPredict",
            _raw_predict,
        )
    app.router.add_post(TOKEN_PATH, _token)


async def _token(request: web.Request) -> web.Response:
    form = await request.post()
    if not (form.get("assertion") or form.get("refresh_token")):
        return transport.json_response(
            {"error": "invalid_grant", "error_description": "no assertion"}, 400
        )
    token = transport.new_id("ya29.sim-")
    return transport.json_response(
        {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
    )


async def _raw_predict(request: web.Request) -> web.StreamResponse:
    engine: Engine = request.app[ENGINE]
    model = request.match_info["model"]
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or auth[7:].strip() == INVALID_KEY:
        return transport.json_response(
            {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                }
            },
            401,
        )
    try:
        body = transport.parse_json(await request.read())
        if not isinstance(body, dict):
            raise RequestError("The request body is not valid JSON.")
        if not isinstance(body.get("anthropic_version"), str):
            raise RequestError("anthropic_version: Field required")
        call, _stream = anthropic_api.parse({**body, "model": model})
        outcome = await run_call(request, replace(call, api="vertex"))
    except ValueError as exc:  # RequestError, or a body that is not JSON
        engine.invalid("vertex", model)
        message = (
            exc.message if isinstance(exc, RequestError) else "The request body is not valid JSON."
        )
        return transport.json_response(
            {"type": "error", "error": {"type": "invalid_request_error", "message": message}},
            400,
        )
    if isinstance(outcome, web.Response):
        return outcome
    if isinstance(outcome, Failure):
        return anthropic_api.failure_response(outcome)
    answer = anthropic_api.reply_body(outcome, model, transport.new_id("msg_vrtx_"))
    return transport.json_response(structured.anthropic_reply(body, outcome, answer))

"""The aiohttp application: API routes (with and without `/v1`), health and admin endpoints.

| route                               | does                                                |
| ----------------------------------- | --------------------------------------------------- |
| `POST /v1/chat/completions`         | OpenAI Chat Completions (also `/chat/completions`)  |
| `POST /v1/messages`                 | Anthropic Messages (also `/messages`)               |
| `POST /openai/deployments/{d}/chat/completions?api-version=V` | Azure OpenAI (key in `api-key`) |
| `POST /v1beta/models/{m}:generateContent`, Vertex's `.../publishers/google/models/{m}:generateContent` | Gemini (gemini_api.py) |
| `POST .../publishers/anthropic/models/{m}:rawPredict`, `POST /token` | Anthropic on Vertex AI, OAuth tokens (vertex_api.py) |
| `POST /model/{id}/invoke`, `/model/{id}/converse` | Bedrock (bedrock_api.py) |
| `GET /healthz`                      | `{"status": "ok", ...}`                             |
| `GET /v1/organization/usage/completions`, `/v1/organization/costs` | OpenAI usage / cost reports |
| `GET /v1/organizations/usage_report/messages`, `/v1/organizations/cost_report` | Anthropic's |
| `GET /_sim/stats`                   | calls per model id and outcome                      |
| `GET /_sim/calls`                   | the call journal: the latest calls, one row each    |
| `POST /_sim/reset`                  | zero the stats, empty the journal, restart streams  |
| `GET /_sim/models/{model}`          | the profile that model id resolves to               |
| `POST /_sim/models/{model}`         | change fields of that profile at runtime (JSON)     |
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from llmrouter.simulator import (
    anthropic_api,
    bedrock_api,
    gemini_api,
    openai_api,
    transport,
    usage_reports,
    vertex_api,
)
from llmrouter.simulator.batches import add_routes as add_batch_routes
from llmrouter.simulator.config import SimConfig
from llmrouter.simulator.engine import Engine
from llmrouter.simulator.evals import EvalIndex
from llmrouter.simulator.keys import ENGINE


async def _healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return transport.json_response(
        {"status": "ok", "simulator": True, "eval_examples": len(engine.index)}
    )


async def _stats(request: web.Request) -> web.Response:
    return transport.json_response(request.app[ENGINE].stats.snapshot())


async def _calls(request: web.Request) -> web.Response:
    return transport.json_response(request.app[ENGINE].journal.snapshot())


async def _reset(request: web.Request) -> web.Response:
    request.app[ENGINE].reset()
    return transport.json_response({"status": "reset"})


async def _get_model(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    model = request.match_info["model"]
    return transport.json_response({"model": model, **engine.profile(model).model_dump()})


async def _set_model(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    model = request.match_info["model"]
    try:
        changes: Any = transport.parse_json(await request.read())
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of profile fields")
        profile = type(engine.profile(model)).model_validate(
            {**engine.profile(model).model_dump(), **changes}
        )
    except (ValueError, ValidationError) as exc:
        return transport.json_response({"error": str(exc)}, status=400)
    engine.set_profile(model, profile)
    return transport.json_response({"model": model, **profile.model_dump()})


async def _on_shutdown(app: web.Application) -> None:
    app[ENGINE].closing = True


def create_app(
    config: SimConfig | None = None, *, index: EvalIndex | None = None
) -> web.Application:
    """A simulator application; eval sets are read once here unless `index` is given."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[ENGINE] = Engine(config if config is not None else SimConfig(), index)
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", openai_api.chat_completions)
        app.router.add_post(f"{prefix}/messages", anthropic_api.messages)
    app.router.add_post(
        "/openai/deployments/{deployment}/chat/completions", openai_api.azure_chat_completions
    )
    usage_reports.add_routes(app)
    add_batch_routes(app)  # OpenAI's and Anthropic's batch APIs, /_sim/batches
    gemini_api.add_routes(app)  # the Gemini API and Gemini on Vertex AI
    vertex_api.add_routes(app)  # Anthropic on Vertex AI, Google's OAuth token endpoint
    bedrock_api.add_routes(app)  # Bedrock invoke (Anthropic) and Converse
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/_sim/stats", _stats)
    app.router.add_get("/_sim/calls", _calls)
    app.router.add_post("/_sim/reset", _reset)
    app.router.add_get("/_sim/models/{model}", _get_model)
    app.router.add_post("/_sim/models/{model}", _set_model)
    app.on_shutdown.append(_on_shutdown)
    return app


def engine_of(app: web.Application) -> Engine:
    """The engine behind an app made by `create_app` (for in-process stats, the call
    journal — `engine_of(app).journal.calls()` — and tweaks)."""
    return app[ENGINE]

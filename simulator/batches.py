"""Both providers' batch APIs on the simulator: OpenAI's Files and Batch API
(batch_openai_api.py), Anthropic's Message Batches (batch_anthropic_api.py), their shared
jobs and knobs (batch_jobs.py) and `GET`/`POST /_sim/batches`."""

from __future__ import annotations

from aiohttp import web

from llmrouter.simulator import batch_anthropic_api, batch_openai_api
from llmrouter.simulator.batch_jobs import BATCHES, BatchStore, add_admin_routes

__all__ = ["add_routes", "store_of"]


def add_routes(app: web.Application) -> None:
    app[BATCHES] = BatchStore()
    batch_openai_api.add_routes(app)
    batch_anthropic_api.add_routes(app)
    add_admin_routes(app)


def store_of(app: web.Application) -> BatchStore:
    """The batch jobs of an app made by `create_app` (for in-process tests)."""
    return app[BATCHES]

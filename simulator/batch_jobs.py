"""The batch jobs both batch APIs share: their requests, states, knobs and answers.

A job is answered once, in one go, when it is first looked at `processing_s` after it was
created (or at once when that is 0): every request goes through the engine like a call
of its own (markers and faults included, no latency), written to the call journal under
`openai-batch` or `anthropic-batch`, so the journal shows each request billed (at the
batch price: half the standard one). Knobs (`POST /_sim/batches`): `processing_s`;
`expire: true` ends each job `expired` with only its first `expire_after` requests
answered; `max_requests` and `max_bytes` per job (0: the provider's own limit). The jobs
created are listed at `GET /_sim/batches`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmrouter.simulator import transport
from llmrouter.simulator.engine import Call, Engine, Failure, Reply, RequestError
from llmrouter.simulator.faults import DirectiveError

__all__ = [
    "BATCHES",
    "BatchApi",
    "BatchKnobs",
    "BatchStore",
    "JobCreated",
    "LineResult",
    "SimJob",
    "add_admin_routes",
]

BatchApi = Literal["openai", "anthropic"]

#: the providers' own limits of one job: requests, bytes
PROVIDER_LIMITS: dict[str, tuple[int, int]] = {
    "openai": (50_000, 200 * 1024 * 1024),
    "anthropic": (100_000, 256 * 1024 * 1024),
}
#: the completion window: a job not done within it expires
WINDOW_S = 24 * 3600


class BatchKnobs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processing_s: float = Field(default=0.0, ge=0)
    expire: bool = False
    expire_after: int = Field(default=0, ge=0)
    max_requests: int = Field(default=0, ge=0)
    max_bytes: int = Field(default=0, ge=0)

    def limits(self, api: BatchApi) -> tuple[int, int]:
        most_requests, most_bytes = PROVIDER_LIMITS[api]
        return (self.max_requests or most_requests, self.max_bytes or most_bytes)


@dataclass(slots=True)
class LineResult:
    custom_id: str
    #: the engine's reply, or its failure, or None: not sent to the model (`expired`,
    #: `canceled`, or `invalid_request: <why>`, said in `reason`)
    outcome: Reply | Failure | None
    #: why not sent, when `outcome` is None
    reason: str = ""
    #: the request's model as sent
    model: str = ""


@dataclass(slots=True)
class SimJob:
    api: BatchApi
    id: str
    requests: list[tuple[str, dict[str, Any]]]
    created_at: float = field(default_factory=time.time)
    metadata: dict[str, str] = field(default_factory=dict)
    input_file_id: str | None = None
    #: answered once processed (or cancelled)
    results: list[LineResult] | None = None
    ended_at: float | None = None
    #: completed, expired, cancelled, failed
    end_state: str | None = None
    cancel_requested_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True, slots=True)
class JobCreated:
    """A row of `GET /_sim/batches`: one job created."""

    api: BatchApi
    id: str
    requests: int
    created_at: float
    metadata: dict[str, str]


class BatchStore:
    def __init__(self) -> None:
        self.knobs = BatchKnobs()
        self.jobs: dict[str, SimJob] = {}
        self.files: dict[str, tuple[str, str, bytes, float]] = {}
        self.created: list[JobCreated] = []

    def reset(self) -> None:
        self.jobs.clear()
        self.files.clear()
        self.created.clear()

    def add_file(self, filename: str, purpose: str, content: bytes) -> str:
        file_id = transport.new_id("file-")
        self.files[file_id] = (filename, purpose, content, time.time())
        return file_id

    def add_job(self, job: SimJob) -> None:
        self.jobs[job.id] = job
        self.created.append(
            JobCreated(job.api, job.id, len(job.requests), job.created_at, dict(job.metadata))
        )

    def newest_first(self, api: BatchApi) -> list[SimJob]:
        return [job for job in reversed(self.jobs.values()) if job.api == api]

    async def advance(
        self,
        engine: Engine,
        job: SimJob,
        parse: Callable[[dict[str, Any]], Call],
        on_done: Callable[[SimJob], None],
    ) -> None:
        """Answer the job once its processing time has passed, or end a cancelled one."""
        if job.results is not None:
            return
        now = time.time()
        cancelled = job.cancel_requested_at is not None
        if not cancelled and now < job.created_at + self.knobs.processing_s:
            return
        async with job.lock:
            if job.results is not None:
                return
            results: list[LineResult] = []
            for i, (custom, body) in enumerate(job.requests):
                model = str(body.get("model", ""))
                if cancelled:
                    results.append(LineResult(custom, None, "canceled", model))
                elif self.knobs.expire and i >= self.knobs.expire_after:
                    results.append(LineResult(custom, None, "expired", model))
                else:
                    results.append(await _answer(engine, job.api, custom, body, parse))
            job.results = results
            job.ended_at = time.time()
            job.end_state = (
                "cancelled" if cancelled else "expired" if self.knobs.expire else "completed"
            )
            on_done(job)


async def _answer(
    engine: Engine,
    api: BatchApi,
    custom: str,
    body: dict[str, Any],
    parse: Callable[[dict[str, Any]], Call],
) -> LineResult:
    model = str(body.get("model", ""))
    try:
        call = parse(body)
        directive, prompt = engine.directive({}, call.prompt)
    except (RequestError, DirectiveError) as exc:
        engine.invalid(api, model)
        return LineResult(custom, None, f"invalid_request: {exc}", model)
    outcome = await engine.run(
        replace(call, prompt=prompt),
        replace(directive, latency_ms=0.0),
        journal_api=f"{api}-batch",
    )
    return LineResult(custom, outcome, "", model)


BATCHES: web.AppKey[BatchStore] = web.AppKey("simulator_batches", BatchStore)


def add_admin_routes(app: web.Application) -> None:
    """`GET /_sim/batches`: the knobs and every job created; `POST /_sim/batches`: change
    knobs (JSON); `POST /_sim/reset` empties the jobs too (app.py)."""

    async def show(request: web.Request) -> web.Response:
        store = request.app[BATCHES]
        return transport.json_response(
            {"knobs": store.knobs.model_dump(), "jobs": [asdict(c) for c in store.created]}
        )

    async def change(request: web.Request) -> web.Response:
        store = request.app[BATCHES]
        try:
            changes = transport.parse_json(await request.read())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of knobs")
            store.knobs = BatchKnobs.model_validate({**store.knobs.model_dump(), **changes})
        except (ValueError, ValidationError) as exc:
            return transport.json_response({"error": str(exc)}, status=400)
        return transport.json_response({"knobs": store.knobs.model_dump()})

    app.router.add_get("/_sim/batches", show)
    app.router.add_post("/_sim/batches", change)

"""Anthropic's Message Batches: `POST /v1/messages/batches` (`requests`: `{custom_id,
params}` each, `params` a Messages body), `GET /v1/messages/batches/{id}`,
`GET /v1/messages/batches` (newest first, `limit`, `after_id`),
`POST /v1/messages/batches/{id}/cancel` and `GET /v1/messages/batches/{id}/results`
(JSONL, one `{custom_id, result}` per request: `succeeded` with its `message`, `errored`
with its `error`, `canceled` or `expired`).

`processing_status` is `in_progress`, `canceling` or `ended`; `request_counts` counts
`processing`, `succeeded`, `errored`, `canceled` and `expired`; `results_url` is set once
the batch ended. A body over the request or byte limit is refused with a 413 / 400.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from llmrouter.simulator import anthropic_api, transport
from llmrouter.simulator.batch_jobs import BATCHES, WINDOW_S, BatchStore, LineResult, SimJob
from llmrouter.simulator.engine import Call, Failure
from llmrouter.simulator.keys import ENGINE

__all__ = ["add_routes"]

_PATH = "/v1/messages/batches"


def _error(status: int, type_: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return transport.json_response(body, status)


def _rfc3339(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")


def _parse(body: dict[str, Any]) -> Call:
    return anthropic_api.parse(body)[0]


def _kind(result: LineResult) -> str:
    if result.outcome is None:
        return "errored" if result.reason.startswith("invalid_request") else result.reason
    return "errored" if isinstance(result.outcome, Failure) else "succeeded"


def _batch_object(request: web.Request, job: SimJob) -> dict[str, Any]:
    results = job.results
    counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
    if results is None:
        counts["processing"] = len(job.requests)
    else:
        for result in results:
            counts[_kind(result)] += 1
    if job.end_state is not None:
        status = "ended"
    elif job.cancel_requested_at is not None:
        status = "canceling"
    else:
        status = "in_progress"
    base = f"{request.scheme}://{request.host}"
    return {
        "id": job.id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": counts,
        "ended_at": _rfc3339(job.ended_at),
        "created_at": _rfc3339(job.created_at),
        "expires_at": _rfc3339(job.created_at + WINDOW_S),
        "archived_at": None,
        "cancel_initiated_at": _rfc3339(job.cancel_requested_at),
        "results_url": f"{base}{_PATH}/{job.id}/results" if status == "ended" else None,
    }


def _result_row(result: LineResult) -> dict[str, Any]:
    outcome = result.outcome
    if outcome is None:
        if result.reason.startswith("invalid_request"):
            error = {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": result.reason},
            }
            return {"custom_id": result.custom_id, "result": {"type": "errored", "error": error}}
        return {"custom_id": result.custom_id, "result": {"type": result.reason}}
    if isinstance(outcome, Failure):
        failed = anthropic_api.failure_response(outcome)
        error = orjson.loads(failed.body) if isinstance(failed.body, bytes) else {}
        error.pop("request_id", None)
        return {"custom_id": result.custom_id, "result": {"type": "errored", "error": error}}
    message = anthropic_api.reply_body(outcome, result.model, transport.new_id("msg_"))
    return {"custom_id": result.custom_id, "result": {"type": "succeeded", "message": message}}


async def _advance(request: web.Request, job: SimJob) -> None:
    await request.app[BATCHES].advance(request.app[ENGINE], job, _parse, lambda _job: None)


async def create_batch(request: web.Request) -> web.Response:
    store: BatchStore = request.app[BATCHES]
    raw = await request.read()
    most_requests, most_bytes = store.knobs.limits("anthropic")
    if len(raw) > most_bytes:
        return _error(
            413, "request_too_large", f"Request exceeds the maximum size of {most_bytes} bytes"
        )
    try:
        body = transport.parse_json(raw)
    except ValueError:
        return _error(400, "invalid_request_error", "The request body is not valid JSON.")
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return _error(400, "invalid_request_error", "requests: at least one request is required")
    if len(requests) > most_requests:
        return _error(
            400, "invalid_request_error", f"requests: at most {most_requests} requests per batch"
        )
    parsed: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for i, item in enumerate(requests):
        custom = item.get("custom_id") if isinstance(item, dict) else None
        params = item.get("params") if isinstance(item, dict) else None
        if not isinstance(custom, str) or not 1 <= len(custom) <= 64:
            return _error(
                400, "invalid_request_error", f"requests.{i}.custom_id: 1 to 64 characters"
            )
        if not isinstance(params, dict):
            return _error(400, "invalid_request_error", f"requests.{i}.params: Field required")
        if custom in seen:
            return _error(
                400,
                "invalid_request_error",
                f"requests.{i}.custom_id: duplicate custom_id {custom!r}",
            )
        seen.add(custom)
        parsed.append((custom, params))
    job = SimJob("anthropic", transport.new_id("msgbatch_"), parsed)
    store.add_job(job)
    return transport.json_response(_batch_object(request, job))


def _job(request: web.Request) -> SimJob | None:
    job = request.app[BATCHES].jobs.get(request.match_info["batch_id"])
    return job if job is not None and job.api == "anthropic" else None


def _not_found(request: web.Request) -> web.Response:
    return _error(404, "not_found_error", f"batch {request.match_info['batch_id']} not found")


async def retrieve_batch(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return _not_found(request)
    await _advance(request, job)
    return transport.json_response(_batch_object(request, job))


async def cancel_batch(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return _not_found(request)
    await _advance(request, job)
    if job.end_state is None:
        job.cancel_requested_at = time.time()
    answer = _batch_object(request, job)
    await _advance(request, job)  # the simulator cancels at once
    return transport.json_response(answer)


async def results(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return _not_found(request)
    await _advance(request, job)
    if job.results is None or job.end_state is None:
        return _error(
            400, "invalid_request_error", "results are not available until the batch ended"
        )
    content = b"".join(orjson.dumps(_result_row(r)) + b"\n" for r in job.results)
    return web.Response(body=content, content_type="application/binary")


async def list_batches(request: web.Request) -> web.Response:
    jobs = request.app[BATCHES].newest_first("anthropic")
    for job in jobs:  # time passes for every job, looked at or not
        await _advance(request, job)
    after = request.query.get("after_id")
    if after:
        ids = [job.id for job in jobs]
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "20"))))
    except ValueError:
        return _error(400, "invalid_request_error", "limit: Input should be a valid integer")
    data = [_batch_object(request, job) for job in jobs[:limit]]
    return transport.json_response(
        {
            "data": data,
            "has_more": len(jobs) > limit,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(_PATH, create_batch)
    app.router.add_get(_PATH, list_batches)
    app.router.add_get(_PATH + "/{batch_id}", retrieve_batch)
    app.router.add_post(_PATH + "/{batch_id}/cancel", cancel_batch)
    app.router.add_get(_PATH + "/{batch_id}/results", results)

"""OpenAI's Files and Batch APIs: `POST /v1/files` (multipart, `purpose=batch`),
`GET /v1/files/{id}` and `/content`, `POST /v1/batches`, `GET /v1/batches/{id}`,
`GET /v1/batches` (newest first, `limit`, `after`), `POST /v1/batches/{id}/cancel`.

A batch goes `validating` → `in_progress` → `finalizing` → `completed` (or `expired`,
`cancelling` → `cancelled`, `failed` when its input file breaks the rules: not JSONL,
another endpoint, several models, over the request or byte limit). Its output file holds
one line per answered request, `{"id", "custom_id", "response": {"status_code": 200,
"request_id", "body"}, "error": null}`; its error file the others: an API error as the
response (`status_code` 4xx/5xx and the error body) or, for a request never run, `response:
null` and `error: {"code": "batch_expired" | "batch_cancelled", "message"}`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from llmrouter.simulator import openai_api, transport
from llmrouter.simulator.batch_jobs import BATCHES, WINDOW_S, BatchStore, LineResult, SimJob
from llmrouter.simulator.engine import Call, Failure
from llmrouter.simulator.keys import ENGINE

__all__ = ["add_routes"]

_ENDPOINT = "/v1/chat/completions"


def _error(status: int, message: str, type_: str = "invalid_request_error") -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": None, "code": None}}
    return transport.json_response(body, status)


def _file_object(file_id: str, entry: tuple[str, str, bytes, float]) -> dict[str, Any]:
    filename, purpose, content, created = entry
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(content),
        "created_at": int(created),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
    }


def _parse(body: dict[str, Any]) -> Call:
    return openai_api.parse(body)[0]


def _status(job: SimJob, store: BatchStore) -> str:
    if job.end_state is not None:
        return job.end_state
    if job.cancel_requested_at is not None:
        return "cancelling"
    if time.time() < job.created_at + min(store.knobs.processing_s, 0.05):
        return "validating"
    return "in_progress"


def _batch_object(job: SimJob, store: BatchStore) -> dict[str, Any]:
    status = _status(job, store)
    results = job.results or []
    answered = sum(1 for r in results if _answered(r))
    created = int(job.created_at)
    ended = int(job.ended_at) if job.ended_at else None
    return {
        "id": job.id,
        "object": "batch",
        "endpoint": _ENDPOINT,
        "errors": {"object": "list", "data": job.errors} if job.errors else None,
        "input_file_id": job.input_file_id,
        "completion_window": "24h",
        "status": status,
        "output_file_id": job.output_file_id,
        "error_file_id": job.error_file_id,
        "created_at": created,
        "in_progress_at": created if status != "failed" else None,
        "expires_at": created + WINDOW_S,
        "finalizing_at": ended if status == "completed" else None,
        "completed_at": ended if status == "completed" else None,
        "failed_at": ended if status == "failed" else None,
        "expired_at": ended if status == "expired" else None,
        "cancelling_at": int(job.cancel_requested_at) if job.cancel_requested_at else None,
        "cancelled_at": ended if status == "cancelled" else None,
        "request_counts": {
            "total": len(job.requests),
            "completed": answered,
            "failed": len(results) - answered,
        },
        "metadata": job.metadata or None,
    }


def _answered(result: LineResult) -> bool:
    return result.outcome is not None and not isinstance(result.outcome, Failure)


def _line(result: LineResult) -> bytes:
    row: dict[str, Any] = {"id": transport.new_id("batch_req_"), "custom_id": result.custom_id}
    outcome = result.outcome
    if outcome is None:
        code = "batch_cancelled" if result.reason == "canceled" else "batch_expired"
        if result.reason.startswith("invalid_request"):
            row["response"] = {
                "status_code": 400,
                "request_id": transport.new_id("req_"),
                "body": {"error": {"message": result.reason, "type": "invalid_request_error"}},
            }
            row["error"] = None
        else:
            message = (
                "This request could not be executed before the completion window expired."
                if code == "batch_expired"
                else "This request was not executed because the batch was cancelled."
            )
            row["response"] = None
            row["error"] = {"code": code, "message": message}
    elif isinstance(outcome, Failure):
        failed = openai_api.failure_response(outcome, result.model)
        row["response"] = {
            "status_code": failed.status,
            "request_id": transport.new_id("req_"),
            "body": orjson.loads(failed.body) if isinstance(failed.body, bytes) else None,
        }
        row["error"] = None
    else:
        row["response"] = {
            "status_code": 200,
            "request_id": transport.new_id("req_"),
            "body": openai_api.reply_body(outcome, result.model),
        }
        row["error"] = None
    return orjson.dumps(row) + b"\n"


def _write_files(store: BatchStore, job: SimJob) -> None:
    results = job.results or []
    good = b"".join(_line(r) for r in results if _answered(r))
    bad = b"".join(_line(r) for r in results if not _answered(r))
    if good:
        job.output_file_id = store.add_file(f"{job.id}_output.jsonl", "batch_output", good)
    if bad:
        job.error_file_id = store.add_file(f"{job.id}_error.jsonl", "batch_output", bad)


async def _advance(request: web.Request, job: SimJob) -> None:
    store = request.app[BATCHES]
    await store.advance(request.app[ENGINE], job, _parse, lambda j: _write_files(store, j))


async def create_file(request: web.Request) -> web.Response:
    store = request.app[BATCHES]
    try:
        form = await request.post()
    except ValueError:
        return _error(400, "expected a multipart/form-data body")
    upload = form.get("file")
    purpose = form.get("purpose")
    if not isinstance(upload, web.FileField) or not isinstance(purpose, str):
        return _error(400, "Missing required parameter: 'file' and 'purpose'.")
    content = upload.file.read()
    file_id = store.add_file(upload.filename or "upload.jsonl", purpose, content)
    return transport.json_response(_file_object(file_id, store.files[file_id]))


async def retrieve_file(request: web.Request) -> web.Response:
    store = request.app[BATCHES]
    file_id = request.match_info["file_id"]
    if file_id not in store.files:
        return _error(404, f"No such File object: {file_id}")
    return transport.json_response(_file_object(file_id, store.files[file_id]))


async def file_content(request: web.Request) -> web.Response:
    store = request.app[BATCHES]
    file_id = request.match_info["file_id"]
    if file_id not in store.files:
        return _error(404, f"No such File object: {file_id}")
    return web.Response(body=store.files[file_id][2], content_type="application/octet-stream")


def _validate(
    store: BatchStore, content: bytes
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The requests of an input file, and the errors that fail the batch."""
    requests: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    for number, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError:
            errors.append(
                {
                    "code": "invalid_json_line",
                    "message": "This line is not parseable as valid JSON.",
                    "param": None,
                    "line": number,
                }
            )
            continue
        custom = row.get("custom_id") if isinstance(row, dict) else None
        body = row.get("body") if isinstance(row, dict) else None
        if not isinstance(custom, str) or not isinstance(body, dict):
            errors.append(
                {
                    "code": "missing_required_parameter",
                    "message": "custom_id and body are required.",
                    "param": None,
                    "line": number,
                }
            )
            continue
        if row.get("url") != _ENDPOINT or row.get("method") != "POST":
            errors.append(
                {
                    "code": "invalid_url",
                    "message": f"The URL provided for this request does not match the batch endpoint {_ENDPOINT}.",
                    "param": "url",
                    "line": number,
                }
            )
            continue
        if custom in seen:
            errors.append(
                {
                    "code": "duplicate_custom_id",
                    "message": "The custom_id for this request is a duplicate of another request.",
                    "param": "custom_id",
                    "line": number,
                }
            )
            continue
        seen.add(custom)
        models.add(str(body.get("model")))
        requests.append((custom, body))
    most_requests, most_bytes = store.knobs.limits("openai")
    if len(models) > 1:
        errors.append(
            {
                "code": "mismatched_model",
                "message": "The provided model does not match the model of other requests in the file.",
                "param": "body.model",
                "line": None,
            }
        )
    if len(requests) > most_requests:
        errors.append(
            {
                "code": "too_many_requests",
                "message": f"The batch input file has more than {most_requests} requests.",
                "param": None,
                "line": None,
            }
        )
    if len(content) > most_bytes:
        errors.append(
            {
                "code": "file_too_large",
                "message": f"The batch input file is larger than {most_bytes} bytes.",
                "param": None,
                "line": None,
            }
        )
    if not requests and not errors:
        errors.append(
            {
                "code": "empty_file",
                "message": "The batch input file is empty.",
                "param": None,
                "line": None,
            }
        )
    return requests, errors


async def create_batch(request: web.Request) -> web.Response:
    store = request.app[BATCHES]
    try:
        body = transport.parse_json(await request.read())
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return _error(400, "expected a JSON object")
    file_id = body.get("input_file_id")
    if body.get("endpoint") != _ENDPOINT:
        return _error(400, f"the simulator batches only {_ENDPOINT}")
    if body.get("completion_window") != "24h":
        return _error(400, "Invalid 'completion_window': expected '24h'.")
    if not isinstance(file_id, str) or file_id not in store.files:
        return _error(404, f"No such File object: {file_id}")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or len(metadata) > 16:
        return _error(400, "Invalid 'metadata': at most 16 string pairs.")
    requests, errors = _validate(store, store.files[file_id][2])
    job = SimJob(
        "openai",
        transport.new_id("batch_"),
        requests,
        metadata={str(k): str(v) for k, v in metadata.items()},
        input_file_id=file_id,
    )
    if errors:
        job.results, job.end_state, job.errors, job.ended_at = [], "failed", errors, time.time()
    store.add_job(job)
    return transport.json_response(_batch_object(job, store))


def _job(request: web.Request) -> SimJob | None:
    job = request.app[BATCHES].jobs.get(request.match_info["batch_id"])
    return job if job is not None and job.api == "openai" else None


async def retrieve_batch(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return _error(404, f"No batch found with id '{request.match_info['batch_id']}'.")
    await _advance(request, job)
    return transport.json_response(_batch_object(job, request.app[BATCHES]))


async def cancel_batch(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return _error(404, f"No batch found with id '{request.match_info['batch_id']}'.")
    await _advance(request, job)
    if job.end_state is not None:
        return _error(409, f"Cannot cancel a batch with status '{job.end_state}'.")
    job.cancel_requested_at = time.time()
    answer = _batch_object(job, request.app[BATCHES])
    await _advance(request, job)  # the simulator cancels at once
    return transport.json_response(answer)


async def list_batches(request: web.Request) -> web.Response:
    store = request.app[BATCHES]
    jobs = store.newest_first("openai")
    for job in jobs:  # time passes for every job, looked at or not
        await _advance(request, job)
    after = request.query.get("after")
    if after:
        ids = [job.id for job in jobs]
        jobs = jobs[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = max(1, min(100, int(request.query.get("limit", "20"))))
    except ValueError:
        return _error(400, "Invalid 'limit'.")
    page = jobs[:limit]
    data = [_batch_object(job, store) for job in page]
    return transport.json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(jobs) > limit,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/files", create_file)
    app.router.add_get("/v1/files/{file_id}", retrieve_file)
    app.router.add_get("/v1/files/{file_id}/content", file_content)
    app.router.add_post("/v1/batches", create_batch)
    app.router.add_get("/v1/batches", list_batches)
    app.router.add_get("/v1/batches/{batch_id}", retrieve_batch)
    app.router.add_post("/v1/batches/{batch_id}/cancel", cancel_batch)

"""`llmrouter produce`: publish one request or a JSON Lines file, optionally wait for results."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llmrouter.core.errors import ConfigError
from llmrouter.producers.client import RequestProducer
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, encode

__all__ = ["produce_requests", "read_jsonl"]


def read_jsonl(path: Path, task: str) -> list[dict[str, Any]]:
    """Request objects of a JSON Lines file; each line needs `input`, may carry any field."""
    rows: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ConfigError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("input"), str):
            raise ConfigError(f"{path}:{number}: needs an object with a string `input`")
        row.setdefault("task", task)
        rows.append(row)
    return rows


async def produce_requests(
    task: str,
    text: str | None,
    file: Path | None,
    wait: bool,
    timeout_s: float,
    tier: str | None,
    bootstrap: str | None,
) -> int:
    async with RequestProducer.from_env(bootstrap) as producer:
        if text is not None:
            requests = [producer.build(task, text, user_tier=tier)]
        else:
            assert file is not None
            requests = [
                producer.build(
                    row["task"],
                    row["input"],
                    request_id=row.get("request_id"),
                    context=row.get("context"),
                    user_tier=row.get("user_tier"),
                    priority=row.get("priority"),
                    metadata=row.get("metadata"),
                )
                for row in read_jsonl(file, task)
            ]
        waiters = {}
        if wait:
            for request in requests:
                if request.task not in waiters:
                    waiters[request.task] = await producer.waiter(request.task)
        futures = (
            {r.request_id: waiters[r.task].expect(r.request_id) for r in requests} if wait else {}
        )
        with _progress(len(requests) > 1) as progress:
            sent = progress.add_task("published", total=len(requests))
            for request in requests:
                await producer.send(request)
                progress.advance(sent)
            if not wait:
                for request in requests:
                    print(request.request_id)
                return 0
            done = progress.add_task("answered", total=len(requests))
            results = await _collect(futures, timeout_s, lambda: progress.advance(done))
        return _print_results(requests, results)


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show,
        transient=False,
        console=None,
    )


async def _collect(
    futures: dict[str, asyncio.Future[LLMResult]], timeout_s: float, on_result: Any
) -> dict[str, LLMResult]:
    results: dict[str, LLMResult] = {}

    async def one(request_id: str, future: asyncio.Future[LLMResult]) -> None:
        results[request_id] = await future
        on_result()

    pending = [asyncio.create_task(one(rid, fut)) for rid, fut in futures.items()]
    _, late = await asyncio.wait(pending, timeout=timeout_s)
    for task in late:
        task.cancel()
    return results


def _print_results(requests: list[LLMRequest], results: dict[str, LLMResult]) -> int:
    missing = [r.request_id for r in requests if r.request_id not in results]
    for request in requests:
        result = results.get(request.request_id)
        if result is not None:
            sys.stdout.write(encode(result).decode() + "\n")
    if missing:
        print(
            f"llmrouter: error: no result within the timeout for {len(missing)} request(s)",
            file=sys.stderr,
        )
        return 1
    return 0 if all(r.status is ResultStatus.OK for r in results.values()) else 1

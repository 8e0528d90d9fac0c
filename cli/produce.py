"""`llmrouter produce`: publish one request or a JSON Lines file, optionally wait for results.

Data (request ids, or results as JSON lines) goes to stdout; progress bars and the
closing summary go to stderr, so `produce --wait > out.jsonl` holds only results."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llmrouter.core.errors import ConfigError, InvalidMessage
from llmrouter.producers.client import RequestProducer
from llmrouter.schemas import LLMRequest, LLMResult, Priority, ResultStatus, UserTier, encode
from llmrouter.schemas.money import format_usd

__all__ = ["ProduceJob", "produce_requests", "read_jsonl", "summary_line"]


@dataclass(frozen=True)
class ProduceJob:
    """What to publish: one text (with the options' fields) or a file of requests."""

    task: str
    text: str | None = None
    file: Path | None = None
    tier: UserTier | None = None
    priority: Priority | None = None
    context: dict[str, str] = field(default_factory=dict)


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
        row["_line"] = number
        rows.append(row)
    return rows


def _build(producer: RequestProducer, job: ProduceJob) -> list[LLMRequest]:
    if job.text is not None:
        return [
            producer.build(
                job.task,
                job.text,
                context=job.context,
                user_tier=job.tier,
                priority=job.priority,
            )
        ]
    assert job.file is not None
    requests = []
    for row in read_jsonl(job.file, job.task):
        try:
            requests.append(
                producer.build(
                    row["task"],
                    row["input"],
                    request_id=row.get("request_id"),
                    # a line's own fields win over the command line's
                    context={**job.context, **(row.get("context") or {})},
                    user_tier=row.get("user_tier", job.tier),
                    priority=row.get("priority", job.priority),
                    metadata=row.get("metadata"),
                )
            )
        except InvalidMessage as exc:
            raise ConfigError(f"{job.file}:{row['_line']}: {exc}") from None
    return requests


async def produce_requests(
    job: ProduceJob, *, wait: bool, timeout_s: float, bootstrap: str | None
) -> int:
    stderr = Console(stderr=True)
    async with RequestProducer.from_env(bootstrap) as producer:
        requests = _build(producer, job)
        waiters = {}
        if wait:
            for request in requests:
                if request.task not in waiters:
                    waiters[request.task] = await producer.waiter(request.task)
        futures = (
            {r.request_id: waiters[r.task].expect(r.request_id) for r in requests} if wait else {}
        )
        with _progress(len(requests) > 1, stderr) as progress:
            sent = progress.add_task("published", total=len(requests))
            for request in requests:
                await producer.send(request)
                progress.advance(sent)
            if not wait:
                for request in requests:
                    sys.stdout.write(request.request_id + "\n")
                return 0
            done = progress.add_task("answered", total=len(requests))
            results = await _collect(futures, timeout_s, lambda: progress.advance(done))
        return _print_results(requests, results, stderr)


def _progress(show: bool, console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not show,
        transient=False,
        console=console,
    )


async def _collect(
    futures: dict[str, asyncio.Future[LLMResult]],
    timeout_s: float,
    on_result: Callable[[], object],
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


def summary_line(results: list[LLMResult], missing: int = 0) -> str:
    """`3 ok, 1 failed (expired ×1); models: gpt-4o-mini ×2, claude-3-haiku ×1; cost $0.0012`."""
    ok = sum(r.status is ResultStatus.OK for r in results)
    failed = [r for r in results if r.status is not ResultStatus.OK]
    reasons = Counter(_reason(r) for r in failed)
    parts = [f"{ok} ok", f"{len(failed)} failed"]
    if reasons:
        parts[-1] += " (" + ", ".join(f"{why} ×{n}" for why, n in reasons.most_common()) + ")"
    if missing:
        parts.append(f"{missing} unanswered")
    models = Counter(r.model for r in results if r.model)
    used = ", ".join(f"{m} ×{n}" for m, n in models.most_common()) or "none"
    cost = sum((r.cost_usd for r in results), Decimal(0))
    return f"{', '.join(parts)}; models: {used}; cost {format_usd(cost, significant=3)}"


def _reason(result: LLMResult) -> str:
    text = (result.error or "").strip() or "no reason given"
    return text.split(":", 1)[0][:60]


def _print_results(
    requests: list[LLMRequest], results: dict[str, LLMResult], stderr: Console
) -> int:
    missing = [r.request_id for r in requests if r.request_id not in results]
    for request in requests:
        result = results.get(request.request_id)
        if result is not None:
            sys.stdout.write(encode(result).decode() + "\n")
    sys.stdout.flush()
    stderr.print(summary_line(list(results.values()), len(missing)), highlight=False, markup=False)
    if missing:
        print(
            f"llmrouter: error: no result within the timeout for {len(missing)} request(s)",
            file=sys.stderr,
        )
        return 1
    return 0 if all(r.status is ResultStatus.OK for r in results.values()) else 1

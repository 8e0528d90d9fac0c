"""Which pipeline processes the bench waits for before it sends: those whose subscription
(the pattern each logs as it starts) takes the run's requests topic."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bench.harness import Child, started
from bench.openloop import _wait_for_readers
from llmrouter.schemas import dumps

TOPIC = "llm.requests.bench-pipel-0123456789"


def _worker(tmp_path: Path, name: str, pattern: str, *, assigned: bool) -> Child:
    """A stand-in worker process: logs `worker started` with `pattern`, then (if
    `assigned`) `partitions assigned`, then waits to be stopped."""
    lines = [dumps({"event": "worker started", "pattern": pattern}).decode()]
    if assigned:
        lines.append(dumps({"event": "partitions assigned", "partitions": 3}).decode())
    script = "import sys, time\n" + "".join(f"print({line!r}, flush=True)\n" for line in lines)
    script += "time.sleep(600)\n"
    return Child(name, [sys.executable, "-c", script], tmp_path / f"{name}.log")


async def test_a_worker_that_does_not_read_the_topic_is_not_waited_for(tmp_path: Path) -> None:
    idle = _worker(
        tmp_path, "classifier", r"^llm\.requests\.(?!(?:bench-pipel-0123456789)$)x$", assigned=False
    )
    async with started(idle, stop_timeout_s=5):
        await asyncio.wait_for(_wait_for_readers([idle], TOPIC), timeout=60)


async def test_a_worker_that_reads_the_topic_is_waited_for(tmp_path: Path) -> None:
    reader = _worker(
        tmp_path, "classifier", r"^llm\.requests\.(?:bench-pipel-0123456789)$", assigned=True
    )
    silent = _worker(tmp_path, "other", r"^llm\.requests\..*$", assigned=False)
    async with started(reader, stop_timeout_s=5), started(silent, stop_timeout_s=5):
        await asyncio.wait_for(_wait_for_readers([reader], TOPIC), timeout=60)
        # One that takes the topic but never owns partitions is still being waited for.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(_wait_for_readers([silent], TOPIC), timeout=1.0)

"""The call journal (`GET /_sim/calls`): the latest upstream calls, one row each.

```json
{"capacity": 10000, "total": 2,
 "calls": [{"api": "anthropic", "model": "claude-3-haiku-20240307",
            "prompt_hash": "5f0c9a1e2b7d4c38", "started_at": 8123.41, "ended_at": 8123.56,
            "outcome": "ok"},
           {"api": "openai", "model": "gpt-4o", "prompt_hash": "0be1...",
            "started_at": 8123.50, "ended_at": null, "outcome": null}]}
```

A row is written when a parsed request reaches a model (requests refused for their key or
their body are counted in `/_sim/stats` only) and finished when its outcome is known:
`ok` once the answer is ready to send, a fault's name when it is decided (for a `hang`,
when the hang begins), `cancelled` when the client went away first (a caller that died
mid-call). `ended_at` and `outcome` are null while the call is in flight. Times are
`time.monotonic()` seconds of the simulator's process — on one machine the same clock as
any other process's `time.monotonic()`, so a test can place a call before or after an
event of its own. `prompt_hash` is a stable digest of the prompt as answered (system text
and every message with its role, `[[sim:...]]` markers removed): the same prompt sent
twice has the same hash, in any process. The journal keeps the last `capacity` calls
(`SimConfig.journal_size`); `total` counts every call since the last reset.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from llmrouter.simulator.answers import Prompt

__all__ = ["CANCELLED", "CallJournal", "CallRecord", "CallUsage", "prompt_hash"]

CANCELLED = "cancelled"


def prompt_hash(prompt: Prompt) -> str:
    """A stable 16-hex-digit digest of the system text and every (role, text) message."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(prompt.system.encode())
    for role, text in prompt.messages:
        digest.update(b"\x00" + role.encode() + b"\x01" + text.encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class CallUsage:
    """The tokens an answered call billed, by class. The cache counts are parts of
    `input_tokens` (the prompt), `reasoning_tokens` a part of `output_tokens`."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class CallRecord:
    api: str
    model: str
    prompt_hash: str
    started_at: float
    ended_at: float | None = None
    outcome: str | None = None
    #: `time.time()` at the start: the day the usage reports bill the call to
    wall_at: float = 0.0
    #: set when the call was answered (`ok`); failed calls bill nothing
    usage: CallUsage | None = None


class CallJournal:
    """A ring buffer of `CallRecord`s: an append per call, nothing else on the hot path
    (unless someone in this process waits on it: `wait_until`)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._calls: deque[CallRecord] = deque(maxlen=capacity)
        self.total = 0
        self._changed: asyncio.Event | None = None

    @property
    def capacity(self) -> int:
        return self._calls.maxlen or 0

    def begin(self, api: str, model: str, prompt: Prompt, at: float) -> CallRecord:
        record = CallRecord(api, model, prompt_hash(prompt), at, wall_at=time.time())
        self._calls.append(record)
        self.total += 1
        if self._changed is not None:
            self._changed.set()
        return record

    def finish(
        self, record: CallRecord, outcome: str, at: float, usage: CallUsage | None = None
    ) -> None:
        record.outcome, record.ended_at, record.usage = outcome, at, usage
        if self._changed is not None:
            self._changed.set()

    async def wait_until(
        self, done: Callable[[list[CallRecord]], bool], timeout_s: float
    ) -> list[CallRecord]:
        """The kept calls once `done(calls)` holds, looked at after every start and end
        of a call (in the simulator's event loop); TimeoutError after `timeout_s`."""
        async with asyncio.timeout(timeout_s):
            while not done(calls := self.calls()):
                if self._changed is None:
                    self._changed = asyncio.Event()
                self._changed.clear()
                await self._changed.wait()
        return calls

    def calls(self) -> list[CallRecord]:
        """The kept calls, oldest first (rows still in flight change as they finish)."""
        return list(self._calls)

    def clear(self) -> None:
        self._calls.clear()
        self.total = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "total": self.total,
            "calls": [
                {
                    "api": r.api,
                    "model": r.model,
                    "prompt_hash": r.prompt_hash,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "outcome": r.outcome,
                    "wall_at": r.wall_at,
                    "usage": asdict(r.usage) if r.usage is not None else None,
                }
                for r in self._calls
            ],
        }

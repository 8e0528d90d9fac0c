"""Request ids in a batch job: the idempotency rule of the realtime path, kept across the
hours a job may take.

The realtime path answers a request id once (router/state/dedupe.py): a claim while it
routes, then the answer kept for the dedupe window. A batch job answers hours later, so
the router stage cannot hold a claim that long; instead the hand-over marks the id as
*in a job* (`mark`), naming the record it came in and the input's fingerprint, under the
same dedupe claim that tells it whether the id was answered already. Until the job is
published, any other record of that id (batch or realtime priority) is a copy of a
request in a job: it gets no call and no answer of its own (the job's answer is the one),
or, with another input, a `duplicate_conflict`. When the job is published its answers are
kept in the dedupe store like a realtime answer (later copies get them as duplicates)
and the marks are removed (`unmark`).

With a state store the marks are shared by every replica; without one they are this
process's own, like `MemoryDedupe`. A store that cannot be reached marks nothing: the
request is handed over as before (a copy could then be answered twice, as on the
realtime path when the store is down).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

import structlog

from llmrouter.core.errors import StateStoreError
from llmrouter.router.state.store import StateStore
from llmrouter.router.state.wiring import RouterState

__all__ = ["IN_JOB_S", "InJob", "InJobMarks", "in_job_marks"]

log = structlog.get_logger("llmrouter.workers.batch")

#: how long a mark outlives its hand-over: a job's 24 h window, its flush wait and a margin
IN_JOB_S = 2 * 86_400

# KEYS[1] the id's mark; ARGV value, ttl s. Returns the mark already there, or nil (set now).
_MARK = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


@dataclass(frozen=True, slots=True)
class InJob:
    """The record whose request is in a job, and its input's fingerprint."""

    origin: str
    fingerprint: str

    def encode(self) -> bytes:
        return f"{self.origin}\n{self.fingerprint}".encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> InJob:
        text = raw.decode() if isinstance(raw, bytes) else raw
        origin, _, fingerprint = text.partition("\n")
        return cls(origin, fingerprint)


def _name(task: str, request_id: str) -> str:
    return f"{task}/{request_id}"


class InJobMarks:
    def __init__(self, store: StateStore | None) -> None:
        self._store = store
        self._mark = store.script(_MARK) if store is not None else None
        #: without a store: name -> (mark, expires at, monotonic)
        self._local: dict[str, tuple[InJob, float]] = {}

    def _key(self, task: str, request_id: str) -> str:
        assert self._store is not None
        return self._store.key("batchjob", _name(task, request_id))

    async def mark(self, task: str, request_id: str, held: InJob) -> InJob | None:
        """Mark the id as in a job for `held`, unless it is marked already: that mark."""
        if self._store is None or self._mark is None:
            return self._mark_local(_name(task, request_id), held)
        try:
            raw = await self._mark([self._key(task, request_id)], [held.encode(), IN_JOB_S])
        except StateStoreError as exc:
            log.warning("batch in-job mark failed; handing over without it", error=str(exc))
            return None
        return InJob.decode(raw) if raw else None

    async def get(self, task: str, request_id: str) -> InJob | None:
        """The id's mark, if it is in a job."""
        if self._store is None:
            return self._get_local(_name(task, request_id))
        key = self._key(task, request_id)
        try:
            raw = await self._store.run(lambda c: c.get(key))
        except StateStoreError as exc:
            log.warning("batch in-job check failed; routing without it", error=str(exc))
            return None
        return InJob.decode(raw) if raw else None

    async def unmark(self, task: str, request_id: str, origin: str) -> None:
        """Remove the id's mark if it is `origin`'s (its job was published)."""
        if self._store is None:
            name = _name(task, request_id)
            if (held := self._get_local(name)) is not None and held.origin == origin:
                del self._local[name]
            return
        key = self._key(task, request_id)
        try:
            raw = await self._store.run(lambda c: c.get(key))
            if raw and InJob.decode(raw).origin == origin:
                await self._store.run(lambda c: c.delete(key))
        except StateStoreError as exc:
            log.warning("batch in-job mark not removed; it expires", error=str(exc))

    def _mark_local(self, name: str, held: InJob) -> InJob | None:
        existing = self._get_local(name)
        if existing is not None:
            return existing
        self._local[name] = (held, time.monotonic() + IN_JOB_S)
        return None

    def _get_local(self, name: str) -> InJob | None:
        entry = self._local.get(name)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._local[name]
            return None
        return entry[0]


#: one set of marks per router state, by its id (the router stage and the batch worker of a
#: process share the state, so the marks too)
_MARKS: dict[int, tuple[weakref.ref[RouterState], InJobMarks]] = {}


def in_job_marks(state: RouterState) -> InJobMarks:
    held = _MARKS.get(id(state))
    if held is not None and held[0]() is state:
        return held[1]
    marks = InJobMarks(state.store)
    key = id(state)
    _MARKS[key] = (weakref.ref(state, lambda _ref: _MARKS.pop(key, None)), marks)
    return marks

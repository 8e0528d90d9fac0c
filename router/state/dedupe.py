"""`request_id` as an idempotency key: one provider-answered result per task and request id.

A worker claims a request id before routing it (`claim`). The first claimant owns it —
under a lease it renews while working, so a SIGKILLed owner's claim expires and the
redelivered record is processed once. Workers make the lease their Kafka session timeout:
a dead owner's claims expire about when its partitions are given to another process, so
a redelivered record waits for them no longer than for the handover, and a process alive
enough to keep its partitions keeps its claims. Its result is stored *before* the Kafka
transaction that publishes it, together with the record it came from (`origin`):

- a later record with another origin is a duplicate: its stored result is published again
  marked `duplicate: true`, with no provider call and no cost event;
- the same record delivered again means the transaction that published its result never
  committed (the process died after storing): the stored result is published as the
  original, with its cost events, so nothing is billed twice and nothing goes missing;
- a record arriving while the id is claimed waits for the owner's result.

The key is the task and the request id together: the same id on two tasks is two
requests, each answered on its own task's topic. A claim records a fingerprint of what
the answer depends on (`input_fingerprint`: the input, the context and the user tier); a
record of the same id with another fingerprint is a conflict (`DuplicateConflict`): it
gets no call and never the earlier answer, which may be another client's.

A stored result is at most `max_result_bytes` (`defaults.dedupe_max_result_bytes`); a
larger one is kept as a marker that the id was answered: a later duplicate then gets a
`failed` result saying so (marked `duplicate`, or dropped), and a redelivery of the very
record routes again (its result was never published).

Failed results are not stored: a client retrying after a failure gets a new attempt.
`MemoryDedupe` does the same within one process (and forgets on restart);
`SharedDedupe` keeps it in the store for every replica and across restarts.

`route_once` is the one interface a worker needs (through `RoutingEngine.route_once`):
claim, route, keep the answer or free the id, and hand back either the new `Routed`
or the `Earlier` result.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import orjson
import structlog

from llmrouter.core.errors import DuplicateConflict, StateStoreError
from llmrouter.router.routed import Earlier, Routed
from llmrouter.router.state.packing import pack, unpack
from llmrouter.router.state.store import StateStore
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, decode, encode

__all__ = [
    "DEFAULT_CLAIM_LEASE_S",
    "DEFAULT_MAX_RESULT_BYTES",
    "DUPLICATE_CONFLICT",
    "Claim",
    "Dedupe",
    "MemoryDedupe",
    "SeenResult",
    "SharedDedupe",
    "input_fingerprint",
    "route_once",
]

log = structlog.get_logger("llmrouter.state")

#: a claim's lease when nothing better is known (the workers' default session timeout)
DEFAULT_CLAIM_LEASE_S = 10.0

#: the largest result kept for duplicates; a larger one is kept as a marker only
DEFAULT_MAX_RESULT_BYTES = 65_536

#: the reason a conflicting request's failed result starts with
DUPLICATE_CONFLICT = "duplicate_conflict"


def input_fingerprint(request: LLMRequest) -> str:
    """A hash of what the answer depends on: the input, the context and the user tier.
    Every mapping's keys are written in order (by orjson itself: sorting in Python cost 7%
    of a router's CPU), so equal contexts hash alike."""
    material = orjson.dumps(
        [request.input, request.context, request.user_tier],
        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(material).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SeenResult:
    """A result already stored for the request id, and the record that produced it."""

    origin: str
    #: the encoded result; empty when it was over `max_result_bytes` (only a marker kept),
    #: or when the id's owner is still working (a conflict seen early)
    result: bytes
    #: the input fingerprint of the request that claimed the id ("" for an old entry)
    fingerprint: str = ""

    def redelivered(self, origin: str) -> bool:
        """True when `origin` is the very record that produced it (not a duplicate)."""
        return self.origin == origin

    def conflicts(self, fingerprint: str) -> bool:
        """True when the id was claimed for another input than `fingerprint`'s."""
        return bool(self.fingerprint and fingerprint and self.fingerprint != fingerprint)


class Claim(Protocol):
    """Ownership of a request id while its result is being made."""

    async def store(self, result: bytes) -> None:
        """Keep the result for the dedupe window (before its transaction commits)."""

    async def release(self) -> None:
        """Give the id up without a result (failed or cancelled): the next record routes."""


class Dedupe(Protocol):
    async def claim(
        self,
        request_id: str,
        origin: str,
        *,
        wait_s: float,
        task: str = "",
        fingerprint: str = "",
    ) -> Claim | SeenResult:
        """Ownership of `request_id` within `task`, or the result it already has (waiting
        up to `wait_s` for an owner that is still working, unless its `fingerprint`
        differs: a conflict is told at once)."""

    async def aclose(self) -> None: ...


# -- the interface -------------------------------------------------------------------------


async def route_once(
    dedupe: Dedupe,
    route: Callable[[], Awaitable[Routed]],
    request_id: str,
    origin: str,
    *,
    wait_s: float,
    task: str = "",
    fingerprint: str = "",
) -> Routed | Earlier:
    """`route()` unless `request_id` has a result already within `task` (`Earlier`). An
    answer is kept for later duplicates before it is returned; a failure, or an error,
    frees the id. Raises `DuplicateConflict`, having called nothing, when the id was
    claimed for another input (`fingerprint`, from `input_fingerprint`)."""
    claim = await dedupe.claim(
        request_id, origin, wait_s=wait_s, task=task, fingerprint=fingerprint
    )
    if isinstance(claim, SeenResult):
        if claim.conflicts(fingerprint):
            raise DuplicateConflict(
                f"{DUPLICATE_CONFLICT}: request id {request_id!r} was used for another input "
                f"of task {task!r} within the dedupe window; no call was made",
                request_id=request_id,
            )
        if claim.result:
            return Earlier(decode(claim.result, LLMResult), claim.redelivered(origin))
        if not claim.redelivered(origin):
            return Earlier(_answered_marker(request_id, task), redelivered=False)
        # This very record's answer was too large to keep and never published: route again.
        return await route()
    try:
        routed = await route()
    except BaseException:
        await claim.release()
        raise
    if routed.result.status is ResultStatus.OK:
        encoded = encode(routed.result)
        await claim.store(encoded)
        return Routed(routed.result, routed.failure, encoded)  # published as kept
    await claim.release()
    return routed


def _answered_marker(request_id: str, task: str) -> LLMResult:
    """What a duplicate of an answer too large to keep gets: a failed result saying so."""
    return LLMResult(
        request_id=request_id,
        task=task,
        status=ResultStatus.FAILED,
        error="duplicate: this request id was answered before; its answer was over "
        "defaults.dedupe_max_result_bytes and is not kept",
    )


def _kept(result: bytes, max_result_bytes: int) -> bytes:
    """`result`, or the empty marker when it is over the bound."""
    return result if len(result) <= max_result_bytes else b""


def _dedupe_name(task: str, request_id: str) -> str:
    """The claim's name: task and id (a task name never holds a '/')."""
    return f"{task}/{request_id}" if task else request_id


# -- in one process ------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    origin: str
    fingerprint: str = ""
    result: bytes | None = None
    expires_at: float = 0.0
    #: set when the owner stores or releases; made only once a duplicate waits on it
    done: asyncio.Event | None = None
    size_bytes: int = 0


#: what one kept entry costs besides its result (its key, origin, fingerprint and objects)
_ENTRY_OVERHEAD_BYTES = 400


class _MemoryClaim:
    #: its `store` never suspends, so it cannot be cut off halfway (router/state/kept.py)
    stores_at_once = True

    def __init__(self, owner: MemoryDedupe, request_id: str, entry: _Entry) -> None:
        self._owner, self._id, self._entry = owner, request_id, entry

    async def store(self, result: bytes) -> None:
        entry = self._entry
        kept = _kept(result, self._owner.max_result_bytes)
        entry.result = pack(kept) if kept else kept
        entry.expires_at = time.monotonic() + self._owner.window_s
        self._owner._account(self._id, entry, len(entry.result))
        _wake(entry)

    async def release(self) -> None:
        if self._entry.result is None:
            self._owner._forget(self._id, self._entry)
            _wake(self._entry)


def _wake(entry: _Entry) -> None:
    """Wake the duplicates waiting on `entry`'s owner, if any."""
    if entry.done is not None:
        entry.done.set()
        entry.done = None


class MemoryDedupe:
    """Per process: duplicates are caught only when the same replica sees both copies.
    It keeps at most `max_entries` ids and `max_bytes` of results and ids, the oldest
    forgotten first: a router's memory stays bounded however many requests it answers
    (a busy replica keeps the last minutes; a shared store keeps the whole window).
    Results are kept compressed (packing.py): the default 20 MiB holds about 23,000
    answers of 1.2 KB with their ids, 46 s of a replica answering 500 requests/s."""

    def __init__(
        self,
        window_s: float,
        *,
        max_entries: int = 200_000,
        max_bytes: int = 20 * 1024 * 1024,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        self.window_s = window_s
        self.max_result_bytes = max_result_bytes
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """What the kept entries take, as counted against `max_bytes`."""
        return self._bytes

    async def claim(
        self,
        request_id: str,
        origin: str,
        *,
        wait_s: float,
        task: str = "",
        fingerprint: str = "",
    ) -> Claim | SeenResult:
        name = _dedupe_name(task, request_id)
        deadline = time.monotonic() + wait_s
        while True:
            entry = self._entries.get(name)
            now = time.monotonic()
            if entry is not None and entry.result is not None and entry.expires_at <= now:
                self._forget(name, entry)
                entry = None
            if entry is None:
                entry = _Entry(origin, fingerprint)
                self._entries[name] = entry
                self._account(name, entry, 0)
                return _MemoryClaim(self, name, entry)
            if entry.result is not None:
                result = unpack(entry.result) if entry.result else entry.result
                return SeenResult(entry.origin, result, entry.fingerprint)
            if entry.fingerprint and fingerprint and entry.fingerprint != fingerprint:
                return SeenResult(entry.origin, b"", entry.fingerprint)
            remaining = deadline - now
            if remaining <= 0:
                log.warning("duplicate waited too long for the first; routing it", id=request_id)
                return _MemoryClaim(self, name, _Entry(origin, fingerprint))
            if entry.done is None:
                entry.done = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.done.wait(), remaining)

    def _account(self, name: str, entry: _Entry, result_bytes: int) -> None:
        """Count `entry` at its size now (unless it was forgotten already), then forget the
        oldest entries over the bounds."""
        if self._entries.get(name) is not entry:
            return
        size = _ENTRY_OVERHEAD_BYTES + len(entry.origin) + len(entry.fingerprint) + result_bytes
        self._bytes += size - entry.size_bytes
        entry.size_bytes = size
        entries = self._entries
        while entries and (len(entries) > self._max_entries or self._bytes > self._max_bytes):
            _, oldest = entries.popitem(last=False)
            self._bytes -= oldest.size_bytes
            oldest.size_bytes = 0

    def _forget(self, name: str, entry: _Entry) -> None:
        if self._entries.get(name) is entry:
            del self._entries[name]
            self._bytes -= entry.size_bytes
            entry.size_bytes = 0

    async def aclose(self) -> None:
        return None


# -- shared through the store --------------------------------------------------------------

# KEYS[1] the id's hash; ARGV origin, owner token, lease ms, input fingerprint.
# Returns {'claimed'} | {'done', origin, result, fingerprint}
#       | {'busy', origin, pttl, fingerprint}.
_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'claimed', 'origin', ARGV[1], 'owner', ARGV[2],
             'input', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'claimed'}
end
local input = redis.call('HGET', KEYS[1], 'input') or ''
if state == 'done' then
  return {'done', redis.call('HGET', KEYS[1], 'origin'),
          redis.call('HGET', KEYS[1], 'result') or '', input}
end
return {'busy', redis.call('HGET', KEYS[1], 'origin'), redis.call('PTTL', KEYS[1]), input}
"""

# ARGV owner token, result, window s, origin: store unless a result is already stored.
_STORE = """
if redis.call('HGET', KEYS[1], 'state') == 'done' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[2], 'owner', ARGV[1], 'origin', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS claims; ARGV lease ms, then one owner token per key: renew those we still hold.
_RENEW_ALL = """
local renewed = 0
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'owner') == ARGV[i + 1]
     and redis.call('HGET', key, 'state') == 'claimed' then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed = renewed + 1
  end
end
return renewed
"""

# ARGV owner token, lease ms: renew (or, with lease 0, drop) a claim we still hold.
_LEASE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'claimed' then return 0 end
if tonumber(ARGV[2]) == 0 then redis.call('DEL', KEYS[1]) else
  redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""


class _SharedClaim:
    def __init__(self, dedupe: SharedDedupe, key: str, origin: str) -> None:
        self._dedupe, self._key, self._origin = dedupe, key, origin
        self._token = uuid.uuid4().hex

    def start_renewing(self) -> None:
        if self._dedupe.closed:  # claimed as the router closed: the lease runs out alone
            return
        self._dedupe._held[self._key] = self._token
        self._dedupe._ensure_renewer()

    async def _stop_renewing(self) -> None:
        if self._dedupe._held.get(self._key) == self._token:
            del self._dedupe._held[self._key]

    async def store(self, result: bytes) -> None:
        await self._stop_renewing()
        kept = _kept(result, self._dedupe.max_result_bytes)
        try:
            await self._dedupe._store(
                [self._key], [self._token, kept, int(self._dedupe.window_s), self._origin]
            )
        except StateStoreError as exc:
            # The result is still published; only a later duplicate could be answered twice.
            log.warning("dedupe store failed", error=str(exc))

    async def release(self) -> None:
        await self._stop_renewing()
        try:
            await self._dedupe._lease([self._key], [self._token, 0])
        except StateStoreError as exc:
            log.warning("dedupe release failed; the lease expires", error=str(exc))


class _Unclaimed:
    """What a request routes under when the store cannot be asked: nothing to keep."""

    async def store(self, result: bytes) -> None:
        return None

    async def release(self) -> None:
        return None


class SharedDedupe:
    """Every replica's claims and results in the store, for `window_s`."""

    def __init__(
        self,
        store: StateStore,
        window_s: float,
        *,
        lease_s: float = DEFAULT_CLAIM_LEASE_S,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        self._keys = store
        self.window_s = window_s
        self.lease_s = lease_s
        self.max_result_bytes = max_result_bytes
        self._claim = store.script(_CLAIM)
        self._store = store.script(_STORE)
        self._lease = store.script(_LEASE)
        self._renew_all = store.script(_RENEW_ALL)
        #: the claims this process holds (key -> token), renewed together in one call
        self._held: dict[str, str] = {}
        self._renewer: asyncio.Task[None] | None = None
        self.closed = False

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_held())

    async def _renew_held(self) -> None:
        """Every lease/3: one script call renews every claim of this process (on a
        cluster, one call per hash slot holding some)."""
        lease_ms = int(self.lease_s * 1000)
        while self._held and not self.closed:
            await asyncio.sleep(self.lease_s / 3)
            held = dict(self._held)
            for batch in self._keys.same_slot_batches(list(held), 500):
                try:
                    await self._renew_all(batch, [lease_ms, *(held[k] for k in batch)])
                except StateStoreError as exc:
                    log.warning("dedupe lease renewal failed", error=str(exc))

    async def claim(
        self,
        request_id: str,
        origin: str,
        *,
        wait_s: float,
        task: str = "",
        fingerprint: str = "",
    ) -> Claim | SeenResult:
        # The hash tag is the task and id together: one slot per claim, as before.
        key = self._keys.key("dedupe", _dedupe_name(task, request_id))
        claim = _SharedClaim(self, key, origin)
        deadline = time.monotonic() + wait_s
        delay_s = 0.02
        while True:
            try:
                reply = await self._claim(
                    [key], [origin, claim._token, int(self.lease_s * 1000), fingerprint]
                )
            except StateStoreError as exc:
                log.warning("dedupe check failed; routing without it", error=str(exc))
                return _Unclaimed()
            kind = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
            if kind == "claimed":
                claim.start_renewing()
                return claim
            if kind == "done":
                return SeenResult(_text(reply[1]), bytes(reply[2]), _text(reply[3]))
            owner_fingerprint = _text(reply[3])
            if owner_fingerprint and fingerprint and owner_fingerprint != fingerprint:
                return SeenResult(_text(reply[1]), b"", owner_fingerprint)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("duplicate waited too long for the first; routing it", id=request_id)
                return _Unclaimed()
            # The owner is working (or died and its lease runs out): look again soon.
            await asyncio.sleep(min(delay_s, remaining, max(0.001, int(reply[2]) / 1000)))
            delay_s = min(delay_s * 2, 0.5)

    async def aclose(self) -> None:
        """Stop renewing: what this process still holds expires with its lease, as a
        SIGKILLed owner's would (a renewal after close would call a closed store forever)."""
        self.closed = True
        self._held.clear()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

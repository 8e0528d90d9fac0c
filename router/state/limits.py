"""Per-model rpm, tpm and max_concurrency held in the store: exact across replicas.

One Lua script admits a call atomically against all three, on the store's own clock
(TIME), so replicas with drifting clocks still share one window:

- `limit:{<model>}:calls` — a sorted set of the calls admitted in the last `window_s`
  (a sliding log: at most `rpm` calls in any window, never a burst across a boundary);
- `limit:{<model>}:tokens` / `:total` — each call's tokens (estimated on admission,
  corrected with the reported usage) and their sum over the same window;
- `limit:{<model>}:leases` — calls in flight, each a lease that expires on its own, so a
  replica killed mid-call does not keep its slots.

The hash tag `{<model>}` keeps the four in one slot of a Redis Cluster.

A caller that is not admitted sleeps for the script's hint (when the oldest call leaves
the window, or a short poll for a concurrency slot) and asks again: waiting queues. The
callers of one process wait in turn per task (router/fair_queue.py: FIFO within a task,
round-robin across tasks), and only the one whose turn it is asks the store. With a
bound on the wait (the model's `queue_s`, else the caller's `default_queue_s`), a caller
still not admitted when it has passed (queueing in this process included) gets
`LimitQueueFull` instead, having taken nothing. If the store cannot be reached the call
falls back to this process's share of the limits (router/ratelimit.py) until it can.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog

from llmrouter.core.errors import StateStoreError
from llmrouter.router.config import ModelSpec
from llmrouter.router.fair_queue import FairLock
from llmrouter.router.ratelimit import ModelLimiter, SlotLease, queue_bound_s, turned_away
from llmrouter.router.state.store import StateStore

__all__ = ["SharedLimiter"]

log = structlog.get_logger("llmrouter.state")

# KEYS calls, tokens, tokens_total, leases
# ARGV id, tokens, rpm, tpm, max_concurrency, window ms, lease ms   (0: no such limit)
# Returns {1, 0} admitted, or {0, ms to wait before asking again}.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, tokens = ARGV[1], tonumber(ARGV[2])
local rpm, tpm, maxc = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local window, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if redis.call('ZCARD', KEYS[4]) >= maxc then return {0, 25} end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
for _, gone in ipairs(old) do
  local used = redis.call('HGET', KEYS[2], gone)
  if used then
    redis.call('DECRBY', KEYS[3], used)
    redis.call('HDEL', KEYS[2], gone)
  end
end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
if rpm > 0 and redis.call('ZCARD', KEYS[1]) >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + window - now + 1)}
end
if tpm > 0 then
  local need = math.min(tokens, tpm)
  local total = tonumber(redis.call('GET', KEYS[3]) or '0')
  if total + need > tpm then
    local calls = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    local freed = 0
    for i = 1, #calls, 2 do
      freed = freed + tonumber(redis.call('HGET', KEYS[2], calls[i]) or '0')
      if total - freed + need <= tpm then
        return {0, math.max(1, tonumber(calls[i + 1]) + window - now + 1)}
      end
    end
    return {0, window}
  end
  redis.call('HSET', KEYS[2], id, need)
  redis.call('INCRBY', KEYS[3], need)
  redis.call('PEXPIRE', KEYS[2], window * 2)
  redis.call('PEXPIRE', KEYS[3], window * 2)
end
redis.call('ZADD', KEYS[1], now, id)
redis.call('PEXPIRE', KEYS[1], window * 2)
if maxc > 0 then
  redis.call('ZADD', KEYS[4], now + lease, id)
  redis.call('PEXPIRE', KEYS[4], lease * 2)
end
return {1, 0}
"""

# KEYS tokens, tokens_total; ARGV id, tokens used, tpm
_REPORT = """
local before = redis.call('HGET', KEYS[1], ARGV[1])
if not before then return 0 end
local used = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], ARGV[1], used)
redis.call('INCRBY', KEYS[2], used - tonumber(before))
return 1
"""


class _SharedLease:
    def __init__(self, limiter: SharedLimiter, call_id: str) -> None:
        self._limiter = limiter
        self._id = call_id
        self.reported: int | None = None

    def report(self, tokens: int) -> None:
        self.reported = tokens


class SharedLimiter:
    """The `Limiter` of router/ratelimit.py for one model, shared through `store`.

    `lease_s` bounds how long a call can hold a concurrency slot (longer than any call's
    timeout); `window_s` is the rate window (a minute: rpm and tpm are per minute).
    """

    def __init__(
        self,
        model: str,
        spec: ModelSpec,
        store: StateStore,
        *,
        lease_s: float = 60.0,
        window_s: float = 60.0,
        fallback: ModelLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.model = model
        self._spec = spec
        self._store = store
        self._keys = [store.key("limit", model, part) for part in ("calls", "tokens", "total")]
        self._leases = store.key("limit", model, "leases")
        self._lease_ms = int(lease_s * 1000)
        self._window_ms = int(window_s * 1000)
        self._admit = store.script(_ADMIT)
        self._report = store.script(_REPORT)
        self._fallback = fallback or ModelLimiter(spec, model=model)
        self._sleep = sleep
        self._queue = FairLock()
        self.in_flight = 0
        self.waiting = 0

    @asynccontextmanager
    async def slot(
        self, estimated_tokens: int, *, task: str = "", default_queue_s: float | None = None
    ) -> AsyncIterator[SlotLease]:
        call_id = uuid.uuid4().hex
        queue_s = queue_bound_s(self._spec, default_queue_s)
        self.waiting += 1
        try:
            admitted = await self._wait(call_id, estimated_tokens, task, queue_s)
        finally:
            self.waiting -= 1
        if not admitted:  # the store is unreachable: this process's share of the limits
            async with self._fallback.slot(
                estimated_tokens, task=task, default_queue_s=default_queue_s
            ) as local:
                yield local
            return
        lease = _SharedLease(self, call_id)
        self.in_flight += 1
        try:
            yield lease
        finally:
            self.in_flight -= 1
            await self._finish(call_id, lease.reported)

    async def _wait(self, call_id: str, tokens: int, task: str, queue_s: float | None) -> bool:
        spec = self._spec
        args = [
            call_id,
            max(0, tokens),
            spec.rpm or 0,
            spec.tpm or 0,
            spec.max_concurrency,
            self._window_ms,
            self._lease_ms,
        ]
        keys = [*self._keys, self._leases]
        loop = asyncio.get_running_loop()
        deadline = None if queue_s is None else loop.time() + queue_s
        # Waiters of this process queue here, each task in turn, and only the head asks
        # the store: one round trip per admission, not one per waiter per poll.
        try:
            async with asyncio.timeout_at(deadline):
                await self._queue.acquire(task)
        except TimeoutError:
            raise turned_away(self.model, queue_s) from None
        try:
            while True:
                try:
                    admitted, wait_ms = await self._admit(keys, args)
                except StateStoreError as exc:
                    log.warning(
                        "shared rate limit unavailable; using this process's share",
                        model=self.model,
                        error=str(exc),
                    )
                    return False
                if admitted:
                    return True
                # Never sleep a whole window blind: capacity freed by a finished call or a
                # corrected estimate is noticed within half a second.
                sleep_s = min(int(wait_ms), 500) / 1000
                if deadline is not None:
                    left_s = deadline - loop.time()
                    if left_s <= 0:
                        raise turned_away(self.model, queue_s)
                    # Ask once more at the deadline itself, never after it.
                    sleep_s = min(sleep_s, left_s)
                await self._sleep(sleep_s)
        finally:
            self._queue.release()

    async def _finish(self, call_id: str, reported: int | None) -> None:
        try:
            if self._spec.max_concurrency:
                await self._store.run(lambda c: c.zrem(self._leases, call_id))
            if reported is not None and self._spec.tpm:
                await self._report(self._keys[1:], [call_id, reported, self._spec.tpm])
        except StateStoreError as exc:
            log.warning("shared rate limit update failed", model=self.model, error=str(exc))

"""A model's circuit breaker shared by every replica: the fleet backs off together.

Each replica still counts its own consecutive failures (router/breaker.py). When its
breaker opens it publishes `breaker:{<model>}:open` with the cooldown as expiry (PX) and
`breaker:{<model>}:half` for a while after it; every replica asks the store before a call
(at most every `cache_s` while the model is healthy), so an opening is seen fleet-wide
within `cache_s` plus one round trip. Once the cooldown has passed exactly one replica
wins `breaker:{<model>}:probe` (SET NX PX) and makes the probe call; its success closes the
breaker for all, its failure opens it again. A probe whose process died frees the probe
slot when its lease runs out. The hash tag `{<model>}` keeps the three keys in one slot
of a Redis Cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

import structlog

from llmrouter.core.errors import ModelCoolingDown, RateLimited, StateStoreError
from llmrouter.router.breaker import BreakerState, CircuitBreaker, counts_as_failure
from llmrouter.router.config import CooldownSettings
from llmrouter.router.state.store import StateStore

__all__ = ["SharedBreaker"]

log = structlog.get_logger("llmrouter.state")

# KEYS open, half, probe; ARGV probe token, probe lease ms.
# {0, ms}: open for ms more; {1}: closed; {2}: you are the probe; {3, ms}: a probe is out.
_ADMIT = """
local open_ms = redis.call('PTTL', KEYS[1])
if open_ms > 0 then return {0, open_ms} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, 0} end
  return {3, redis.call('PTTL', KEYS[3])}
end
return {1, 0}
"""

# KEYS open, half, probe; ARGV cooldown ms, half-open window ms.
_OPEN = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[1]) + tonumber(ARGV[2]))
redis.call('DEL', KEYS[3])
return 1
"""

# After a probe: KEYS half, probe; ARGV token, close? (1: success closes, 0: free the slot)
_PROBED = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
return 1
"""

#: how long after the cooldown a model still needs a probe before it counts as closed
_HALF_OPEN_WINDOW_MS = 60_000


class SharedBreaker:
    """The `Breaker` of router/breaker.py for one model, shared through `store`."""

    def __init__(
        self,
        model: str,
        settings: CooldownSettings,
        store: StateStore,
        *,
        cache_s: float = 0.2,
        probe_lease_s: float = 30.0,
    ) -> None:
        self.model = model
        self._settings = settings
        self._local = CircuitBreaker(model, settings)
        self._store = store
        self._cache_s = cache_s
        self._probe_lease_ms = int(probe_lease_s * 1000)
        keys = [store.key("breaker", model, part) for part in ("open", "half", "probe")]
        self._keys = keys
        self._admit = store.script(_ADMIT)
        self._open = store.script(_OPEN)
        self._probed = store.script(_PROBED)
        self._closed_until = 0.0  # a "closed" answer is trusted until then
        self._probe_token: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> BreakerState:
        return self._local.state

    async def admit(self) -> None:
        local = self._local.state
        if local is BreakerState.OPEN:
            raise ModelCoolingDown(self.model, self._local.open_for_s)
        now = time.monotonic()
        if local is BreakerState.CLOSED and now < self._closed_until:
            return
        token = f"{id(self)}-{now}"
        try:
            verdict, wait_ms = await self._admit(self._keys, [token, self._probe_lease_ms])
        except StateStoreError as exc:
            log.warning("breaker check failed; deciding alone", model=self.model, error=str(exc))
            self._local.before_call()
            return
        if verdict == 1:
            if local is BreakerState.HALF_OPEN:
                self._local.record_success()  # another replica's probe closed it
            self._closed_until = now + self._cache_s
            return
        self._closed_until = 0.0
        if verdict == 2:
            self._probe_token = token
            log.info("probing a model after its cooldown", model=self.model)
            return
        retry_in_s = wait_ms / 1000 if verdict == 0 else self._settings.cooldown_s
        raise ModelCoolingDown(self.model, retry_in_s)

    def record_success(self) -> None:
        self._local.record_success()
        token, self._probe_token = self._probe_token, None
        if token is not None:
            self._spawn(self._probed(self._keys[1:], [token, 1]))
            log.info("model healthy again", model=self.model)

    def record_failure(self, error: BaseException) -> None:
        was_open = self._local.state is BreakerState.OPEN
        self._local.record_failure(error)
        token, self._probe_token = self._probe_token, None
        opened = not was_open and self._local.state is BreakerState.OPEN
        if opened or (token is not None and counts_as_failure(error)):
            cooldown_s = self._local.open_for_s
            if not opened:  # a failed probe: the model is out for a full cooldown again
                cooldown_s = self._settings.cooldown_s
                if isinstance(error, RateLimited) and error.retry_after_s is not None:
                    cooldown_s = max(cooldown_s, error.retry_after_s)
            cooldown_ms = max(1, int(cooldown_s * 1000))
            self._closed_until = 0.0
            self._spawn(self._open(self._keys, [cooldown_ms, _HALF_OPEN_WINDOW_MS]))
            log.warning("model cooling down fleet-wide", model=self.model, cooldown_ms=cooldown_ms)
        elif token is not None:
            self._spawn(self._probed(self._keys[1:], [token, 0]))

    def _spawn(self, op: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await op
            except StateStoreError as exc:
                log.warning("breaker update failed", model=self.model, error=str(exc))

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for the updates already sent (tests; shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

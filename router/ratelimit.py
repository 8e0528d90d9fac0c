"""Per-model admission: a concurrency cap plus requests- and tokens-per-minute buckets.

Limits are per process (ANCHORS complaint 7): N replicas each admitting `rpm` together
send N x rpm. Either write the per-replica share into the config, or pass
`replicas=N` so each process takes 1/N of every limit. A shared (Redis) limiter would
be exact but adds a network hop to every call; the provider's own 429s plus our
Retry-After handling cover the remainder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from llmrouter.router.config import ModelSpec

__all__ = ["ModelLimiter"]

# Float refill arithmetic can leave a bucket a hair short after sleeping exactly the
# computed deficit; without this slack the re-check would schedule a needless extra sleep.
_EPSILON = 1e-9


class _TokenBucket:
    """Starts full; refills continuously at capacity per 60 s."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self._rate_per_s = per_minute / 60.0
        self._tokens = self.capacity
        self._clock = clock
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self._rate_per_s)
        self._updated = now

    def _cost(self, amount: float) -> float:
        # A request larger than the whole minute's budget could never be admitted; let it
        # through once the bucket is full rather than blocking the model forever.
        return min(amount, self.capacity)

    def wait_s(self, amount: float) -> float:
        """Seconds until `amount` is available (0 when it is now)."""
        self._refill()
        deficit = self._cost(amount) - self._tokens
        return 0.0 if deficit <= _EPSILON else deficit / self._rate_per_s

    def take(self, amount: float) -> None:
        self._tokens -= self._cost(amount)


class ModelLimiter:
    """Admission control for one model; use `async with limiter.slot(estimated_tokens):`.

    A caller first takes a concurrency slot, then queues (FIFO, behind one lock) for the
    rpm/tpm buckets. The head of the queue sleeps exactly the larger bucket deficit and
    re-checks, so waiting never spins. `in_flight` and `waiting` are for metrics.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        replicas: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        self._semaphore = asyncio.Semaphore(_share(spec.max_concurrency, replicas))
        self._buckets_lock = asyncio.Lock()  # waiters are woken in arrival order
        self._rpm = _TokenBucket(_share(spec.rpm, replicas), clock) if spec.rpm else None
        self._tpm = _TokenBucket(_share(spec.tpm, replicas), clock) if spec.tpm else None
        self._sleep = sleep
        self.in_flight = 0
        self.waiting = 0

    @asynccontextmanager
    async def slot(self, estimated_tokens: int) -> AsyncIterator[None]:
        """Wait until concurrency and both buckets allow one call of ~`estimated_tokens`."""
        self.waiting += 1
        admitted = False
        try:
            async with self._semaphore:
                await self._wait_for_buckets(estimated_tokens)
                admitted = True
                self.waiting -= 1
                self.in_flight += 1
                try:
                    yield
                finally:
                    self.in_flight -= 1
        finally:
            if not admitted:  # cancelled while queued
                self.waiting -= 1

    async def _wait_for_buckets(self, estimated_tokens: int) -> None:
        async with self._buckets_lock:
            while True:
                wait_s = max(
                    self._rpm.wait_s(1) if self._rpm else 0.0,
                    self._tpm.wait_s(estimated_tokens) if self._tpm else 0.0,
                )
                if wait_s <= 0.0:
                    break
                await self._sleep(wait_s)
            # Take from both only once both allow, so a caller cancelled while waiting
            # has consumed nothing.
            if self._rpm:
                self._rpm.take(1)
            if self._tpm:
                self._tpm.take(estimated_tokens)


def _share(limit: int, replicas: int) -> int:
    """This process's part of a limit shared by `replicas` processes (at least 1)."""
    return max(1, limit // replicas)

"""Per-model admission: a concurrency cap plus requests- and tokens-per-minute buckets.

`Limiter` is what a call needs: `async with limiter.slot(estimated_tokens) as lease:` waits
for a slot, and `lease.report(tokens)` corrects the token estimate with the usage the
provider reported. `ModelLimiter` holds the limits in this process; with `replicas=N` (or
`set_replicas`, as the consumer group's membership changes) it takes 1/N of every limit,
so N replicas together stay within the configured limit without talking to each other.
`router/state/limits.py` holds them in the shared store instead, exactly.

A model's `queue_s` bounds the wait: a caller not admitted within it gets `LimitQueueFull`
and nothing is taken from the limits. A model without one takes the caller's
`default_queue_s` (the config's `defaults.realtime_queue_s` for a realtime request, none
for a batch one); without either a caller waits as long as it is let.

Callers wait in turn per task (router/fair_queue.py): one FIFO queue per task, served
round-robin, for the concurrency slots and for the buckets alike, so a flood of one task
waits behind itself and not in front of every other task's calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from llmrouter.core.errors import LimitQueueFull
from llmrouter.router.config import ModelSpec
from llmrouter.router.fair_queue import FairLock, RoundRobin

__all__ = ["QUEUE_FULL", "Limiter", "ModelLimiter", "SlotLease", "queue_bound_s", "turned_away"]

#: callers turned away with `LimitQueueFull` in this process, by model (a metric)
QUEUE_FULL: Counter[str] = Counter()

# Float refill arithmetic can leave a bucket a hair short after sleeping exactly the
# computed deficit; without this slack the re-check would schedule a needless extra sleep.
_EPSILON = 1e-9


class SlotLease(Protocol):
    def report(self, tokens: int) -> None:
        """The tokens the call really used (prompt + output), replacing the estimate."""


class Limiter(Protocol):
    def slot(
        self, estimated_tokens: int, *, task: str = "", default_queue_s: float | None = None
    ) -> AbstractAsyncContextManager[SlotLease]:
        """Wait for a slot in `task`'s turn; raise `LimitQueueFull` past the model's
        `queue_s` (`default_queue_s` when the model sets none)."""
        ...


def queue_bound_s(spec: ModelSpec, default_queue_s: float | None) -> float | None:
    """How long a caller may wait for a slot: the model's `queue_s`, else the caller's."""
    return spec.queue_s if spec.queue_s is not None else default_queue_s


class _TokenBucket:
    """Starts full; refills continuously at capacity per 60 s."""

    def __init__(self, per_minute: int, clock: Callable[[], float], *, full: bool = True) -> None:
        self._clock = clock
        self._updated = clock()
        self.resize(per_minute)
        self._tokens = self.capacity if full else 0.0

    def resize(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self._rate_per_s = per_minute / 60.0
        self._tokens = min(getattr(self, "_tokens", self.capacity), self.capacity)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self._rate_per_s)
        self._updated = now

    def cost(self, amount: float) -> float:
        # A request larger than the whole minute's budget could never be admitted; let it
        # through once the bucket is full rather than blocking the model forever.
        return min(amount, self.capacity)

    def wait_s(self, amount: float) -> float:
        """Seconds until `amount` is available (0 when it is now)."""
        self._refill()
        deficit = self.cost(amount) - self._tokens
        return 0.0 if deficit <= _EPSILON else deficit / self._rate_per_s

    def take(self, amount: float) -> None:
        self._tokens -= self.cost(amount)

    def adjust(self, delta: float) -> None:
        """Take `delta` more (or give back, when negative) after the fact."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens - delta)


class _Gate:
    """A counting semaphore whose size can change while callers wait; waiters are let in
    FIFO within a task, round-robin across tasks."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.in_use = 0
        self._waiters = RoundRobin()

    def try_acquire(self) -> bool:
        """Take a place now if one is free and nobody waits for it."""
        if self.in_use < self.size and not self._waiters:
            self.in_use += 1
            return True
        return False

    async def acquire(self, task: str = "") -> None:
        if self.try_acquire():
            return
        waiter = self._waiters.push(task)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted and cancelled at once: hand it on
            else:  # `_wake` may have dropped it already
                self._waiters.remove(task, waiter)
            raise

    def release(self) -> None:
        self.in_use -= 1
        self._wake()

    def resize(self, size: int) -> None:
        self.size = size
        self._wake()

    def _wake(self) -> None:
        while self.in_use < self.size:
            waiter = self._waiters.pop()
            if waiter is None:
                return
            self.in_use += 1
            waiter.set_result(None)


class _Lease:
    def __init__(self, limiter: ModelLimiter, estimated_tokens: int) -> None:
        self._limiter = limiter
        self._estimated = estimated_tokens

    def report(self, tokens: int) -> None:
        bucket = self._limiter._tpm
        if bucket is not None:
            bucket.adjust(bucket.cost(tokens) - bucket.cost(self._estimated))
            self._estimated = tokens


class ModelLimiter:
    """Admission control for one model in this process.

    A caller first takes a concurrency slot, then queues (behind one lock, handed on
    round-robin across tasks) for the rpm/tpm buckets. The head of the queue sleeps exactly the larger bucket deficit and
    re-checks, so waiting never spins. Both waits together are bounded by `queue_s`.
    `in_flight` and `waiting` are for metrics.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        model: str = "",
        replicas: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        start_full: bool = True,
    ) -> None:
        """`start_full=False`: the buckets start empty and admit only at their rate, for a
        limiter that takes over from the shared one (no burst on top of its window)."""
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        self._spec = spec
        self.model = model
        self.replicas = replicas
        self._gate = _Gate(_share(spec.max_concurrency, replicas))
        self._buckets_lock = FairLock()  # waiters are let in by task, in turn
        full = start_full
        self._rpm = _TokenBucket(_share(spec.rpm, replicas), clock, full=full) if spec.rpm else None
        self._tpm = _TokenBucket(_share(spec.tpm, replicas), clock, full=full) if spec.tpm else None
        self._clock = clock
        self._sleep = sleep
        self.in_flight = 0
        self.waiting = 0

    def set_replicas(self, replicas: int) -> None:
        """Take this process's share of the limits anew (the group grew or shrank)."""
        replicas = max(1, replicas)
        self.replicas = replicas
        self._gate.resize(_share(self._spec.max_concurrency, replicas))
        if self._rpm and self._spec.rpm:
            self._rpm.resize(_share(self._spec.rpm, replicas))
        if self._tpm and self._spec.tpm:
            self._tpm.resize(_share(self._spec.tpm, replicas))

    @asynccontextmanager
    async def slot(
        self, estimated_tokens: int, *, task: str = "", default_queue_s: float | None = None
    ) -> AsyncIterator[SlotLease]:
        """Wait until concurrency and both buckets allow one call of ~`estimated_tokens`,
        in `task`'s turn."""
        queue_s = queue_bound_s(self._spec, default_queue_s)
        deadline = None if queue_s is None else self._clock() + queue_s
        self.waiting += 1
        admitted = gate_held = self._admit_now(estimated_tokens)
        try:
            try:
                # The timeout bounds the waits for the gate and the queue's lock; the
                # bucket wait itself is bounded on `clock` (the two agree unless a test
                # fakes the clock).
                if not admitted:
                    async with asyncio.timeout(queue_s):
                        await self._gate.acquire(task)
                        gate_held = True
                        admitted = await self._wait_for_buckets(estimated_tokens, deadline, task)
            except TimeoutError:
                admitted = False
            if not admitted:
                raise turned_away(self.model, queue_s)
            self.waiting -= 1
            self.in_flight += 1
            try:
                yield _Lease(self, estimated_tokens)
            finally:
                self.in_flight -= 1
        finally:
            if gate_held:
                self._gate.release()
            if not admitted:  # turned away or cancelled while queued
                self.waiting -= 1

    def _admit_now(self, estimated_tokens: int) -> bool:
        """Admit a call at once when a place is free, nobody queues and both buckets allow
        it (most calls of a model below its limits): no timer, no lock, no wait."""
        if self._buckets_lock.locked():
            return False
        if (self._rpm and self._rpm.wait_s(1) > 0.0) or (
            self._tpm and self._tpm.wait_s(estimated_tokens) > 0.0
        ):
            return False
        if not self._gate.try_acquire():
            return False
        if self._rpm:
            self._rpm.take(1)
        if self._tpm:
            self._tpm.take(estimated_tokens)
        return True

    async def _wait_for_buckets(
        self, estimated_tokens: int, deadline: float | None, task: str
    ) -> bool:
        """Take from the buckets once both allow; False (nothing taken) past `deadline`."""
        await self._buckets_lock.acquire(task)
        try:
            while True:
                wait_s = max(
                    self._rpm.wait_s(1) if self._rpm else 0.0,
                    self._tpm.wait_s(estimated_tokens) if self._tpm else 0.0,
                )
                if wait_s <= 0.0:
                    break
                if deadline is not None:
                    left_s = deadline - self._clock()
                    if left_s <= 0.0:
                        return False
                    # Look once more at the deadline itself: a corrected estimate or a
                    # larger share may have freed room by then.
                    wait_s = min(wait_s, left_s)
                await self._sleep(wait_s)
            # Take from both only once both allow, so a caller cancelled while waiting
            # has consumed nothing.
            if self._rpm:
                self._rpm.take(1)
            if self._tpm:
                self._tpm.take(estimated_tokens)
            return True
        finally:
            self._buckets_lock.release()


def turned_away(model: str, queue_s: float | None) -> LimitQueueFull:
    """The error for a caller not admitted within `queue_s`, counted in `QUEUE_FULL`."""
    QUEUE_FULL[model] += 1
    return LimitQueueFull(model, queue_s or 0.0)


def _share(limit: int, replicas: int) -> int:
    """This process's part of a limit shared by `replicas` processes (at least 1)."""
    return max(1, limit // replicas)

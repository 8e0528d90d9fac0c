"""Waiting in turn across tasks: one FIFO queue per task, served round-robin.

A model's admission (router/ratelimit.py, router/state/limits.py) queues its callers here
instead of in one FIFO, so a flood of one task on a rate-limited model waits behind
itself: a caller of another task is let in after at most one caller of each other task
waiting, however many of them queue.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

__all__ = ["FairLock", "RoundRobin"]


class RoundRobin:
    """Waiters (futures) by task: FIFO within a task, round-robin across tasks."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._queues)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def push(self, task: str) -> asyncio.Future[None]:
        waiter = asyncio.get_running_loop().create_future()
        self._queues.setdefault(task, deque()).append(waiter)
        return waiter

    def pop(self) -> asyncio.Future[None] | None:
        """The next waiter still waiting, its task's turn then passing to the next task."""
        while self._queues:
            task, queue = next(iter(self._queues.items()))
            waiter = queue.popleft()
            if queue:
                self._queues.move_to_end(task)
            else:
                del self._queues[task]
            if not waiter.done():
                return waiter
        return None

    def remove(self, task: str, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(task)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._queues[task]


class FairLock:
    """A lock handed on round-robin across the tasks of its waiters (FIFO within one)."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters = RoundRobin()

    def locked(self) -> bool:
        return self._locked

    async def acquire(self, task: str = "") -> None:
        if not self._locked and not self._waiters:
            self._locked = True
            return
        waiter = self._waiters.push(task)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the lock and cancelled at once: hand it on
            else:
                self._waiters.remove(task, waiter)
            raise

    def release(self) -> None:
        waiter = self._waiters.pop()
        if waiter is None:
            self._locked = False
        else:  # the lock passes straight to the next waiter: nobody can barge in
            waiter.set_result(None)

"""Requests and answers joined by request id, in bounded windows.

A result does not carry its request's input, so the quality worker reads the requests
topic too and keeps each request's text until its result comes, at most `capacity`
requests (the oldest go first). A result read before its request waits for it up to
`wait_s`. Answers are kept likewise (`capacity`), for feedback that labels them later.
A request or answer no longer held is skipped: the watch samples, it does not need all.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from llmrouter.schemas import LLMRequest

__all__ = ["Answer", "RequestWindow", "Window"]

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Answer:
    """A live answer, as feedback needs it."""

    task: str
    model: str
    output: str


class Window(Generic[V]):
    """At most `capacity` values by request id, the oldest dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._values: OrderedDict[str, V] = OrderedDict()

    def put(self, request_id: str, value: V) -> None:
        self._values[request_id] = value
        self._values.move_to_end(request_id)
        while len(self._values) > self.capacity:
            self._values.popitem(last=False)

    def get(self, request_id: str) -> V | None:
        return self._values.get(request_id)

    def pop(self, request_id: str) -> V | None:
        return self._values.pop(request_id, None)

    def __len__(self) -> int:
        return len(self._values)


class RequestWindow:
    """Requests by id; `wait_for` a request that has not been read yet."""

    def __init__(self, capacity: int) -> None:
        self._requests: Window[LLMRequest] = Window(capacity)
        self._waiting: dict[str, asyncio.Event] = {}

    def put(self, request: LLMRequest) -> None:
        self._requests.put(request.request_id, request)
        waiter = self._waiting.pop(request.request_id, None)
        if waiter is not None:
            waiter.set()

    async def wait_for(self, request_id: str, timeout_s: float) -> LLMRequest | None:
        """The request (left in the window: a redelivered answer finds it again); None if
        it does not come in time."""
        found = self._requests.get(request_id)
        if found is not None or timeout_s <= 0:
            return found
        waiter = self._waiting.setdefault(request_id, asyncio.Event())
        try:
            async with asyncio.timeout(timeout_s):
                await waiter.wait()
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)
        return self._requests.get(request_id)

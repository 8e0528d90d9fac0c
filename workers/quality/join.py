"""Requests, answers and feedback joined by request id: in this process's memory
(`MemoryJoin`, one replica), or in the state store (`SharedJoin`, any number of replicas).

A result does not carry its request's input, so the quality worker reads the requests
topic too and keeps each *sampled* request (the shadow and judge samples are a hash of the
request id, known when the request is read) until its result comes. A result read before
its request waits for it up to `wait_s`. Answers are kept for feedback that labels them
later: the task, the model and the label the answer gave (its `eval.label_field`, else the
whole answer, at most a label's length), not the whole answer.

Feedback is joined once per statement: `first_time(identity, origin)` is true for the
first record saying it (`feedback_identity`: request id, task, kind, value, model and
source; not `created_at`, which a client sets anew when it sends again), and again for
that same record redelivered (`origin`: its topic, partition and offset). A record is only
redelivered when the transaction of its outputs never committed, so its score is published
once; a second record saying the same thing publishes nothing.

Why the store and not co-partitioned topics: the worker's consumer assigns partitions
round-robin over every topic it reads, so partition p of the requests, results and
feedback topics may be read by three replicas, and a partition's new owner after a
rebalance would start with none of the state its old owner held. Kept in the store, the
join does not depend on who reads what, nor on the topics' partition counts, and survives
rebalances and restarts. Each key lives `answer_ttl_s` (answers, statements) or
`request_ttl_s` (requests) and is then forgotten: a request or answer no longer held is
skipped, the watch samples.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import orjson

from llmrouter.core.errors import InvalidMessage
from llmrouter.router.state.store import StateStore
from llmrouter.schemas import Feedback, LLMRequest, decode, encode
from llmrouter.schemas.feedback import MAX_FEEDBACK_LABEL_CHARS

__all__ = [
    "DEFAULT_ANSWER_TTL_S",
    "DEFAULT_REQUEST_TTL_S",
    "Answer",
    "Join",
    "MemoryJoin",
    "RequestWindow",
    "SharedJoin",
    "Window",
    "feedback_identity",
]

V = TypeVar("V")

#: how long an answer (for feedback) and a feedback statement (for duplicates) are kept
DEFAULT_ANSWER_TTL_S = 3600.0
#: how long a sampled request is kept for its result
DEFAULT_REQUEST_TTL_S = 600.0
#: the longest pause between two looks for a request another replica is to store
_MAX_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class Answer:
    """A live answer, as feedback needs it: the label it gave (lower case, stripped)."""

    task: str
    model: str
    label: str

    @classmethod
    def of(cls, task: str, model: str, label: str) -> Answer:
        # a label longer than feedback's longest can never equal one: keep one char more
        return cls(task, model, label.strip().lower()[: MAX_FEEDBACK_LABEL_CHARS + 1])


def feedback_identity(feedback: Feedback) -> str:
    """What makes two feedback records the same statement (not when it was sent)."""
    said = feedback.model_dump(mode="json", exclude={"created_at"})
    return hashlib.blake2b(
        orjson.dumps(said, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()


class Join(Protocol):
    async def put_request(self, request: LLMRequest) -> None: ...

    async def wait_for_request(self, request_id: str, timeout_s: float) -> LLMRequest | None: ...

    async def put_answer(self, request_id: str, answer: Answer) -> None: ...

    async def answer(self, request_id: str) -> Answer | None: ...

    async def first_time(self, identity: str, origin: str) -> bool: ...


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


class MemoryJoin:
    """The join in this process, each part bounded by `capacity` (one replica only)."""

    def __init__(self, capacity: int) -> None:
        self.requests = RequestWindow(capacity)
        self.answers: Window[Answer] = Window(capacity)
        self.statements: Window[str] = Window(capacity)

    async def put_request(self, request: LLMRequest) -> None:
        self.requests.put(request)

    async def wait_for_request(self, request_id: str, timeout_s: float) -> LLMRequest | None:
        return await self.requests.wait_for(request_id, timeout_s)

    async def put_answer(self, request_id: str, answer: Answer) -> None:
        self.answers.put(request_id, answer)

    async def answer(self, request_id: str) -> Answer | None:
        return self.answers.get(request_id)

    async def first_time(self, identity: str, origin: str) -> bool:
        seen = self.statements.get(identity)
        if seen is None:
            self.statements.put(identity, origin)
            return True
        return seen == origin


#: set the statement's origin unless one is set; true when the origin set is this one
_FIRST_TIME = """
local seen = redis.call('GET', KEYS[1])
if not seen then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if seen == ARGV[1] then return 1 end
return 0
"""


class SharedJoin:
    """The join in the state store, for every replica of the quality worker. A request
    stored by this process wakes its waiter at once; one stored by another replica is
    looked for again at growing intervals (at most `_MAX_POLL_S`) until `timeout_s`."""

    def __init__(
        self,
        store: StateStore,
        *,
        answer_ttl_s: float = DEFAULT_ANSWER_TTL_S,
        request_ttl_s: float = DEFAULT_REQUEST_TTL_S,
    ) -> None:
        self.store = store
        self.answer_ttl_ms = max(1, int(answer_ttl_s * 1000))
        self.request_ttl_ms = max(1, int(request_ttl_s * 1000))
        self._local = RequestWindow(capacity=10_000)
        self._first_time = store.script(_FIRST_TIME)

    def _key(self, kind: str, request_id: str) -> str:
        return self.store.key("quality", kind, request_id)

    async def put_request(self, request: LLMRequest) -> None:
        key, value = self._key("request", request.request_id), encode(request)
        await self.store.run(lambda c: c.set(key, value, px=self.request_ttl_ms))
        self._local.put(request)

    async def _request(self, request_id: str) -> LLMRequest | None:
        key = self._key("request", request_id)
        raw: Any = await self.store.run(lambda c: c.get(key))
        if raw is None:
            return None
        try:
            return decode(bytes(raw), LLMRequest)
        except InvalidMessage:
            return None

    async def wait_for_request(self, request_id: str, timeout_s: float) -> LLMRequest | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pause_s = 0.02
        while True:
            found = await self._request(request_id)
            left_s = deadline - loop.time()
            if found is not None or left_s <= 0:
                return found
            local = await self._local.wait_for(request_id, min(pause_s, left_s))
            if local is not None:
                return local
            pause_s = min(pause_s * 2, _MAX_POLL_S)

    async def put_answer(self, request_id: str, answer: Answer) -> None:
        key = self._key("answer", request_id)
        value = orjson.dumps([answer.task, answer.model, answer.label])
        await self.store.run(lambda c: c.set(key, value, px=self.answer_ttl_ms))

    async def answer(self, request_id: str) -> Answer | None:
        key = self._key("answer", request_id)
        raw: Any = await self.store.run(lambda c: c.get(key))
        if raw is None:
            return None
        task, model, label = orjson.loads(raw)
        return Answer(str(task), str(model), str(label))

    async def first_time(self, identity: str, origin: str) -> bool:
        key = self._key("said", identity)
        return bool(await self._first_time([key], [origin, self.answer_ttl_ms]))

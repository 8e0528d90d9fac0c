"""What routing one request comes to: its result, and when no model answered, why; or,
for a request id routed before, the result it had then."""

from __future__ import annotations

from dataclasses import dataclass

from llmrouter.core.errors import AllModelsFailed
from llmrouter.schemas import LLMResult

__all__ = ["Earlier", "Routed"]


@dataclass(frozen=True, slots=True)
class Routed:
    """`result` is the request's one result, `ok` or `failed`, with every attempt. When it
    failed, `failure` holds every error the route's models gave, in call order (the
    result's `error` only sums them up): a worker dead-letters the request with it."""

    result: LLMResult
    failure: AllModelsFailed | None = None
    #: `result` encoded for the wire, when it was encoded already (to be kept for the
    #: request id: router/state/dedupe.py): its output publishes these very bytes
    encoded: bytes | None = None


@dataclass(frozen=True, slots=True)
class Earlier:
    """The result a record of this request id produced before (router/state/dedupe.py)."""

    result: LLMResult
    #: True: this very record produced it, and the transaction that published it never
    #: committed, so it is published as the original (cost events too); False: a duplicate
    redelivered: bool

"""The batch worker's records on the compacted `llm.batches` topic (workers/batch/).

Two kinds share the topic, told apart by their key: an *entry* (`e/<origin>`) is one
batch-priority request handed over by the router stage, rendered and ready to send, in
the transaction that commits the request's offset; a *job* (`j/<job_id>`) is the latest
state of one provider job, which lists its entries by their offsets in the same
partition. A job and its entries are tombstoned once its results are published.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from llmrouter.schemas.base import UtcDatetime, WireModel, utc_now
from llmrouter.schemas.codec import dumps
from llmrouter.schemas.requests import ClassifiedRequest
from llmrouter.schemas.topics import BATCHES_TOPIC

__all__ = [
    "BATCHES_TOPIC",
    "BatchEntry",
    "BatchJob",
    "BatchJobState",
    "entry_key",
    "is_job_key",
    "job_key",
]

_ENTRY = "e/"
_JOB = "j/"


def entry_key(origin: str) -> bytes:
    return (_ENTRY + origin).encode()


def job_key(job_id: str) -> bytes:
    return (_JOB + job_id).encode()


def is_job_key(key: bytes | None) -> bool:
    return key is not None and key.startswith(_JOB.encode())


class BatchEntry(WireModel):
    """One batch-priority request, routed and rendered, waiting for its job."""

    request: ClassifiedRequest
    #: the catalog model the route chose, its provider and the route's label
    model: str
    provider: str
    route: str
    #: the provider call's JSON body (what the realtime call would have posted)
    body: dict[str, Any]
    #: how many of the request's classifier attempts the classifier stage billed already
    carried: int = Field(default=0, ge=0)
    #: the classified record it came in, `topic:partition:offset`
    origin: str
    #: the W3C trace context of the request, passed on to its result
    traceparent: str | None = None
    handed_at: UtcDatetime = Field(default_factory=utc_now)

    @property
    def size_bytes(self) -> int:
        """What the entry adds to a job's input (its body as JSON, roughly)."""
        return len(dumps(self.body))


class BatchJobState(StrEnum):
    #: its entries are chosen; not yet (known to be) created at the provider
    OPEN = "open"
    #: created at the provider, its id recorded; polled until it ends
    SUBMITTED = "submitted"
    #: ended; every entry's result (or fallback) is published
    DONE = "done"


class BatchJob(WireModel):
    """One provider job and the entries it holds."""

    job_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    model: str
    provider: str
    state: BatchJobState
    #: offsets of its entries in its partition of `llm.batches`
    entries: list[int]
    created_at: UtcDatetime = Field(default_factory=utc_now)
    provider_batch_id: str | None = None
    submitted_at: UtcDatetime | None = None
    #: the provider's last word on the job (completed, expired, cancelled, failed, ended)
    provider_status: str | None = None
    answered: int = Field(default=0, ge=0)
    fallen_back: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    ended_at: UtcDatetime | None = None

"""Closed vocabularies of the wire contract."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AttemptOutcome", "Complexity", "Priority", "ResultStatus", "UserTier"]


class Complexity(StrEnum):
    SIMPLE = "SIMPLE"
    MEDIUM = "MEDIUM"
    COMPLEX = "COMPLEX"


class UserTier(StrEnum):
    FREE = "free"
    PAID = "paid"
    ENTERPRISE = "enterprise"


class Priority(StrEnum):
    REALTIME = "realtime"
    BATCH = "batch"


class ResultStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


class AttemptOutcome(StrEnum):
    """What one provider call (or cache lookup standing in for one) came to."""

    OK = "ok"  # answered, and the answer was used
    CACHE_HIT = "cache_hit"  # served from the response cache; costs nothing
    LOW_CONFIDENCE = "low_confidence"  # answered, but the cascade escalated past it
    RATE_LIMITED = "rate_limited"  # 429
    TIMEOUT = "timeout"  # no answer within timeout_s
    SERVER_ERROR = "server_error"  # 5xx, 529 overloaded, connection failure
    MALFORMED = "malformed"  # an answer that could not be read
    BAD_REQUEST = "bad_request"  # 400-class, not retried
    AUTH_ERROR = "auth_error"  # 401/403, not retried
    QUOTA_EXCEEDED = "quota_exceeded"  # 402 or a spend limit, not retried
    COOLING_DOWN = "cooling_down"  # circuit open; no call was made
    CONTEXT_LENGTH = "context_length"  # prompt over the model's context window
    CONTENT_POLICY = "content_policy"  # provider refused the content
    #: answered, but the answer breaks the task's `prompt.response_schema`; the route
    #: moved on (billed like any answered call)
    INVALID_OUTPUT = "invalid_output"
    ERROR = "error"  # anything else
    #: cut off in flight (its record handed over past the rebalance grace, or a shutdown
    #: past the grace): the provider may bill it, so it is accounted at the prompt's
    #: estimated input tokens and no output tokens (docs/delivery.md)
    ABANDONED = "abandoned"

"""Every error this project raises, under one root.

    LLMRouterError
     ├── ConfigError(ValueError)            bad routing config; names the key path and line
     ├── InvalidMessage(ValueError)         bytes that are not a valid message of the contract
     │    ├── UnknownTask                   a task with no route in the config
     │    ├── MessageTooLarge               over the configured size limit
     │    └── DuplicateConflict             a request id reused for another input within the dedupe window
     ├── ProviderError                      one provider call failed (model, provider, status_code)
     │    ├── RateLimited                   429; carries retry_after_s when the provider said
     │    ├── ProviderTimeout               no answer within the model's timeout_s
     │    ├── ProviderUnavailable           5xx, 529 overloaded, connection refused or reset
     │    ├── MalformedResponse             an answer that could not be read
     │    ├── AuthenticationFailed          401/403: never retried
     │    ├── QuotaExceeded                 402, spend limits: never retried, fallbacks may help
     │    ├── InvalidOutput                 an answer that breaks the task's response_schema: the route moves on
     │    └── BadRequest                    400/404/422: never retried
     │         ├── ContextLengthExceeded    goes straight to a fallback with a larger window
     │         └── ContentPolicyViolation   the provider refused the content
     ├── ModelCoolingDown                   circuit open for a model; no call was made
     ├── LimitQueueFull                     no rate-limit slot within the model's queue_s; no call was made
     ├── BudgetSpent                        the task's daily budget was reached while a call waited; no call was made
     ├── CallBudgetExhausted                the per-request bound on upstream calls was reached
     │    └── RequestExpired                past its deadline or max age before a call; no call was made
     ├── AllModelsFailed(ExceptionGroup)    every model of a route failed; holds every error
     ├── KafkaUnavailable                   the broker could not be reached or the client failed
     │    ├── KafkaAccessDenied             authentication or authorization refused: never retried
     │    ├── KafkaFenced                   a newer instance took over our transactional id
     │    ├── KafkaTopicMissing             the topic does not exist
     │    └── KafkaRequestRejected          the broker refused the request as invalid
     ├── StateStoreError                    the shared state store (Redis) refused a command
     │    └── StateStoreUnavailable         the store could not be reached or answered too late
     ├── LocalKafkaError                    `llmrouter kafka` could not set up or run the local broker
     └── MissingDependency(ImportError)     an optional package is not installed; names the extra

Third-party exceptions (openai, anthropic, aiokafka, redis) are translated into this tree
where they are caught, each library's classes in one table; a test fails when a release
adds a class the table does not name: `tests/router/test_provider_errors.py` (the SDKs),
`tests/kafkaio/test_kafka_errors.py` (aiokafka), `tests/router/test_state_store.py` (redis-py).
`tests/core/test_errors.py` checks that this drawing lists every class of the module.
Messages never contain secrets: provider bodies are passed through `redact` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "AllModelsFailed",
    "AuthenticationFailed",
    "BadRequest",
    "BudgetSpent",
    "CallBudgetExhausted",
    "ConfigError",
    "ContentPolicyViolation",
    "ContextLengthExceeded",
    "DuplicateConflict",
    "InvalidMessage",
    "InvalidOutput",
    "KafkaAccessDenied",
    "KafkaFenced",
    "KafkaRequestRejected",
    "KafkaTopicMissing",
    "KafkaUnavailable",
    "LLMRouterError",
    "LimitQueueFull",
    "LocalKafkaError",
    "MalformedResponse",
    "MessageTooLarge",
    "MissingDependency",
    "ModelCoolingDown",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "QuotaExceeded",
    "RateLimited",
    "RequestExpired",
    "StateStoreError",
    "StateStoreUnavailable",
    "UnknownTask",
]


class LLMRouterError(Exception):
    """Root of every error raised by this project."""


class ConfigError(LLMRouterError, ValueError):
    """The routing config is invalid. `key` is the dotted path, `line` the YAML line."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None) -> None:
        where = ""
        if key:
            where = f"{key}"
            if line is not None:
                where += f" (line {line})"
            where += ": "
        super().__init__(f"{where}{message}")
        self.key = key
        self.line = line


class InvalidMessage(LLMRouterError, ValueError):
    """A Kafka message that does not follow the wire contract."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class UnknownTask(InvalidMessage):
    """The message names a task the routing config has no route for."""


class MessageTooLarge(InvalidMessage):
    """The message (or its input) is over the configured limit."""


class DuplicateConflict(InvalidMessage):
    """The request id already has a request of another input (or context) within the
    dedupe window: no call is made and the earlier answer is not handed out."""


class ProviderError(LLMRouterError):
    """One call to a model provider failed.

    Attributes:
        model: the catalog name of the model that was called.
        provider: `anthropic`, `openai` or `openai-compatible`.
        status_code: the HTTP status the provider answered with, if any.
    """

    #: whether our retry layer may call the same model again
    retryable: bool = False
    #: the attempt outcome recorded in results and cost events
    outcome: str = "error"

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        provider: str = "",
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.provider = provider
        self.status_code = status_code

    def __str__(self) -> str:
        prefix = f"{self.model}: " if self.model else ""
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        return f"{prefix}{self.args[0]}{status}"


class RateLimited(ProviderError):
    retryable = True
    outcome = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class ProviderTimeout(ProviderError):
    retryable = True
    outcome = "timeout"


class ProviderUnavailable(ProviderError):
    retryable = True
    outcome = "server_error"


class MalformedResponse(ProviderError):
    retryable = True
    outcome = "malformed"


class AuthenticationFailed(ProviderError):
    outcome = "auth_error"


class QuotaExceeded(ProviderError):
    outcome = "quota_exceeded"


class BadRequest(ProviderError):
    outcome = "bad_request"


class ContextLengthExceeded(BadRequest):
    outcome = "context_length"


class ContentPolicyViolation(BadRequest):
    outcome = "content_policy"


class InvalidOutput(ProviderError):
    """The model answered, but not as the task's `prompt.response_schema` asks: the call
    was made and billed; the cascade moves on to the next step (not retried)."""

    outcome = "invalid_output"


class ModelCoolingDown(LLMRouterError):
    """The model's circuit breaker is open; the call was not made."""

    def __init__(self, model: str, retry_in_s: float) -> None:
        super().__init__(
            f"{model}: cooling down after repeated failures, retry in {retry_in_s:.1f}s"
        )
        self.model = model
        self.retry_in_s = retry_in_s


class LimitQueueFull(LLMRouterError):
    """No rate-limit or concurrency slot for the model within its `queue_s`; the call was
    not made (no attempt, no cost, the breaker untouched), and the route moves on."""

    def __init__(self, model: str, queue_s: float) -> None:
        super().__init__(f"{model}: limit queue full, no slot within {queue_s:g}s")
        self.model = model
        self.queue_s = queue_s


class BudgetSpent(LLMRouterError):
    """The task's daily budget was reached while a call on its budgeted route waited for
    its model's slot: the call was not made (no attempt, no cost, the breaker untouched),
    the walk of that route ends, and the request goes on along `budget.downgrade_to`."""

    def __init__(self, task: str, spent_usd: Decimal) -> None:
        super().__init__(f"{task}: the daily budget was reached (spent {spent_usd} USD)")
        self.task = task
        self.spent_usd = spent_usd


class CallBudgetExhausted(LLMRouterError):
    """The request reached its configured bound on upstream calls."""


class RequestExpired(CallBudgetExhausted):
    """The request passed its deadline (or its task's max age) before a call could be made,
    e.g. while it waited for a rate-limit slot or between retries: the call is not made and
    the walk ends, as when the bound on calls is reached."""


class AllModelsFailed(ExceptionGroup[Exception], LLMRouterError):
    """Every model of the route failed; `exceptions` holds each error in call order.

    The router does not raise it: `RoutingEngine.route` returns the failed result with
    this group beside it (`Routed.failure`), and a worker dead-letters the request with it.
    """

    def derive(self, excs: Sequence[Exception]) -> AllModelsFailed:  # type: ignore[override]
        # Splitting the group (`except*`, `split`) keeps each part an AllModelsFailed.
        return AllModelsFailed(self.message, excs)


class KafkaUnavailable(LLMRouterError):
    """The Kafka cluster could not be reached, or a Kafka client call failed."""


class KafkaAccessDenied(KafkaUnavailable):
    """Kafka refused our credentials or our rights (SASL, ACLs); retrying will not help."""


class KafkaFenced(KafkaUnavailable):
    """A newer instance with the same transactional id took over: this one must stop."""


class KafkaTopicMissing(KafkaUnavailable):
    """The topic does not exist (topics are created explicitly, never on first use)."""


class KafkaRequestRejected(KafkaUnavailable):
    """The broker refused the request as invalid: a record too large, a bad setting, an
    unsupported version. Retrying the same request will not help."""


class StateStoreError(LLMRouterError):
    """The shared state store (Redis) refused a command: a bad script, a wrong key type."""


class StateStoreUnavailable(StateStoreError):
    """The shared state store could not be reached, refused our credentials, or timed out."""


class LocalKafkaError(LLMRouterError):
    """The local development broker (`llmrouter kafka`) could not be assembled, started or stopped."""


class MissingDependency(LLMRouterError, ImportError):
    """An optional package is not installed. `module` is its import name, `extra` the
    `llmrouter[...]` extra that installs it (see `llmrouter.core.optional`)."""

    def __init__(self, message: str, *, module: str, extra: str) -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra

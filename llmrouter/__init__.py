"""Kafka-native multi-model LLM router: the client and the wire contract.

    from llmrouter import RequestProducer

    async with RequestProducer.from_env() as producer:
        result = await producer.submit_and_wait("moderation", "some user comment")

What is importable from here is the public API: the client (`RequestProducer`,
`ResultWaiter`, their `KafkaSettings`), the messages of the wire contract and their enums,
and the root of every error this project raises (`LLMRouterError`). It needs only the base
install; the names (and `__version__`, from the distribution's metadata) are loaded on
first use, so importing `llmrouter` (or any module below it) loads none of them.

The packages: `schemas` (the wire contract), `producers` (the way in and out), `router`
(decide and call), `runtime` (the exactly-once Kafka consumer), `workers` (the classifier
and router processes), `operations`, `evaluation` and `cli`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
    from llmrouter.core.errors import LLMRouterError
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.producers.client import RequestProducer, ResultWaiter
    from llmrouter.schemas import (
        Attempt,
        AttemptOutcome,
        Classification,
        ClassifiedRequest,
        Complexity,
        CostEvent,
        DeadLetter,
        Feedback,
        LLMRequest,
        LLMResult,
        Priority,
        ResultStatus,
        Score,
        UserTier,
    )

__all__ = [
    "Attempt",
    "AttemptOutcome",
    "Classification",
    "ClassifiedRequest",
    "Complexity",
    "CostEvent",
    "DeadLetter",
    "Feedback",
    "KafkaSettings",
    "LLMRequest",
    "LLMResult",
    "LLMRouterError",
    "Priority",
    "RequestProducer",
    "ResultStatus",
    "ResultWaiter",
    "Score",
    "UserTier",
    "__version__",
]

#: where each exported name lives
_EXPORTS = {
    "LLMRouterError": "llmrouter.core.errors",
    "KafkaSettings": "llmrouter.kafkaio.settings",
    "RequestProducer": "llmrouter.producers.client",
    "ResultWaiter": "llmrouter.producers.client",
    **dict.fromkeys(
        (
            "Attempt",
            "AttemptOutcome",
            "Classification",
            "ClassifiedRequest",
            "Complexity",
            "CostEvent",
            "DeadLetter",
            "Feedback",
            "LLMRequest",
            "LLMResult",
            "Priority",
            "ResultStatus",
            "Score",
            "UserTier",
        ),
        "llmrouter.schemas",
    ),
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif module := _EXPORTS.get(name):
        value = getattr(import_module(module), name)
    else:
        raise AttributeError(f"module 'llmrouter' has no attribute {name!r}")
    globals()[name] = value
    return value


def _version() -> str:
    """The installed distribution's version (importlib.metadata is not cheap to import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmrouter")
    except PackageNotFoundError:  # pragma: no cover - a checkout that is not installed
        return "0+unknown"


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

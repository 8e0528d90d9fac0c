"""Kafka-native multi-model LLM router: the client and the wire contract.

    from llmrouter import RequestProducer

    async with RequestProducer.from_env() as producer:
        result = await producer.submit_and_wait("moderation", "some user comment")

What is importable from here is the public API: the client (`RequestProducer`,
`ResultWaiter`, their `KafkaSettings`), the messages of the wire contract and their enums,
and the root of every error this project raises (`LLMRouterError`). It needs only the base
install; the names are loaded on first use, so importing `llmrouter` (or any module below
it) loads none of them.

The packages: `schemas` (the wire contract), `producers` (the way in and out), `router`
(decide and call), `runtime` (the exactly-once Kafka consumer), `workers` (the classifier
and router processes), `operations`, `evaluation` and `cli`.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        LLMRequest,
        LLMResult,
        Priority,
        ResultStatus,
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
    "KafkaSettings",
    "LLMRequest",
    "LLMResult",
    "LLMRouterError",
    "Priority",
    "RequestProducer",
    "ResultStatus",
    "ResultWaiter",
    "UserTier",
    "__version__",
]

try:
    __version__ = version("llmrouter")
except PackageNotFoundError:  # pragma: no cover - run from a checkout that is not installed
    __version__ = "0+unknown"

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
            "LLMRequest",
            "LLMResult",
            "Priority",
            "ResultStatus",
            "UserTier",
        ),
        "llmrouter.schemas",
    ),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llmrouter' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

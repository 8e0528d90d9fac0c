"""The wire contract: pydantic v2 models of every message, and the topic names.

Everything a service needs to publish requests or read results is importable from here.
"""

from __future__ import annotations

from llmrouter.schemas.attempts import Attempt
from llmrouter.schemas.base import SCHEMA_VERSION, WireModel, utc_now
from llmrouter.schemas.codec import decode, dumps, encode, loads, peek_request_id
from llmrouter.schemas.costs import CostEvent
from llmrouter.schemas.dlq import DeadLetter, encode_payload
from llmrouter.schemas.enums import AttemptOutcome, Complexity, Priority, ResultStatus, UserTier
from llmrouter.schemas.feedback import Feedback
from llmrouter.schemas.money import USD, quantize_usd, token_cost_usd
from llmrouter.schemas.requests import Classification, ClassifiedRequest, LLMRequest
from llmrouter.schemas.results import LLMResult
from llmrouter.schemas.scores import SCORES_TOPIC, Score
from llmrouter.schemas.topics import (
    CLASSIFIED_PATTERN,
    COSTS_TOPIC,
    DLQ_TOPIC,
    FEEDBACK_TOPIC,
    REQUESTS_PATTERN,
    RESULTS_PATTERN,
    classified_topic,
    replay_results_topic,
    requests_topic,
    results_topic,
    task_of_topic,
    validate_task_name,
)

__all__ = [
    "CLASSIFIED_PATTERN",
    "COSTS_TOPIC",
    "DLQ_TOPIC",
    "FEEDBACK_TOPIC",
    "MESSAGE_MODELS",
    "REQUESTS_PATTERN",
    "RESULTS_PATTERN",
    "SCHEMA_VERSION",
    "SCORES_TOPIC",
    "USD",
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
    "WireModel",
    "classified_topic",
    "decode",
    "dumps",
    "encode",
    "encode_payload",
    "loads",
    "peek_request_id",
    "quantize_usd",
    "replay_results_topic",
    "requests_topic",
    "results_topic",
    "task_of_topic",
    "token_cost_usd",
    "utc_now",
    "validate_task_name",
]

#: Every top-level message of the contract, by the file name of its JSON Schema.
MESSAGE_MODELS: dict[str, type[WireModel]] = {
    "request": LLMRequest,
    "classified-request": ClassifiedRequest,
    "result": LLMResult,
    "cost-event": CostEvent,
    "dead-letter": DeadLetter,
    "feedback": Feedback,
    "score": Score,
}

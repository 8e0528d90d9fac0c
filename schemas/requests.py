"""What goes in: requests on `llm.requests.<task>`, and their classified form."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from llmrouter.schemas.attempts import Attempt
from llmrouter.schemas.base import RequestId, TaskName, UtcDatetime, WireModel
from llmrouter.schemas.enums import Complexity, Priority, UserTier

__all__ = ["Classification", "ClassifiedRequest", "LLMRequest"]


class LLMRequest(WireModel):
    """One unit of LLM work, published by a client service to `llm.requests.<task>`."""

    request_id: RequestId = Field(description="Idempotency key; also the Kafka message key.")
    task: TaskName
    input: str = Field(description="The text the task works on (the prompt's `input`/`question`).")
    context: dict[str, Any] = Field(
        default_factory=dict, description="Template variables for the prompt, e.g. kb_context."
    )
    user_tier: UserTier | None = None
    priority: Priority | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Echoed back on the result untouched."
    )
    created_at: UtcDatetime | None = Field(
        default=None, description="When the request was made; the producer client fills it in."
    )
    deadline: UtcDatetime | None = Field(
        default=None,
        description="When the answer stops being useful (ISO 8601); a request still waiting "
        "then gets a `failed` result with reason `expired` and no provider call.",
    )


class Classification(WireModel):
    """The classifier worker's verdict on one request."""

    classifier: str = Field(description="`rules`, `llm`, or `none` when the route needs none.")
    complexity: Complexity | None
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str | None = None


class ClassifiedRequest(LLMRequest):
    """A request with its complexity, on `llm.classified.<task>`.

    `classifier_attempts` carries the LLM classifier's own provider call (if any), so that
    the routing worker accounts for its cost in the same transaction as the result.
    """

    complexity: Complexity | None = None
    classification: Classification | None = None
    classifier_attempts: list[Attempt] = Field(default_factory=list)
    classified_at: UtcDatetime | None = None

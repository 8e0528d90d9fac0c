"""What comes out: one result per request on `llm.results.<task>`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from llmrouter.schemas.attempts import Attempt
from llmrouter.schemas.base import RequestId, TaskName, UtcDatetime, WireModel, utc_now
from llmrouter.schemas.enums import Complexity, Priority, ResultStatus, UserTier
from llmrouter.schemas.money import USD

__all__ = ["LLMResult"]


class LLMResult(WireModel):
    request_id: RequestId
    task: TaskName
    status: ResultStatus
    output: str | None = None
    model: str | None = Field(default=None, description="Catalog name of the answering model.")
    model_version: str | None = None
    provider: str | None = None
    complexity: Complexity | None = None
    route: str | None = Field(default=None, description="Strategy that chose the model.")
    attempts: list[Attempt] = Field(default_factory=list)
    escalated: bool = False
    fallback_used: bool = False
    cached: bool = False
    duplicate: bool = Field(
        default=False,
        description="A copy of the result already published for this request_id; no call was made.",
    )
    budget_exceeded: bool = Field(
        default=False, description="The task's daily budget was spent; a cheaper model answered."
    )
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    cost_usd: USD = Decimal(0)
    latency_ms: float = Field(default=0.0, ge=0.0, description="Request creation to result.")
    user_tier: UserTier | None = None
    priority: Priority | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    learned_choice: str | None = Field(
        default=None, description="Catalog model a learned route chose (before any fallback)."
    )
    predicted_score: float | None = Field(
        default=None, description="The learned router's predicted score of its choice."
    )
    route_probability: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The chance an adaptive route had of choosing this request's model "
        "(for unbiased offline evaluation of the choices it logged).",
    )
    source: Literal["live", "shadow"] = Field(
        default="live",
        description="`shadow`: a candidate model's answer to a mirrored live request, on "
        "llm.shadow.<task>; nobody got it.",
    )
    finished_at: UtcDatetime = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _cost_is_sum_of_attempts(self) -> LLMResult:
        total = sum((a.cost_usd for a in self.attempts), Decimal(0))
        if total != self.cost_usd:
            raise ValueError(f"cost_usd {self.cost_usd} is not the sum of attempts' costs {total}")
        return self

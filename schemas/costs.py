"""One cost event per provider call (or cache hit) on `llm.costs`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from llmrouter.schemas.base import RequestId, TaskName, UtcDatetime, WireModel, utc_now
from llmrouter.schemas.enums import AttemptOutcome, UserTier
from llmrouter.schemas.money import USD

__all__ = ["CostEvent"]


class CostEvent(WireModel):
    request_id: RequestId
    task: TaskName
    attempt: int = Field(ge=0, description="Index of the attempt on the request's result.")
    purpose: Literal["answer", "classify"] = "answer"
    model: str
    model_version: str
    provider: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cache_read_tokens: int = Field(
        default=0, ge=0, description="Part of input_tokens read from the provider's prompt cache."
    )
    cache_write_tokens: int = Field(
        default=0, ge=0, description="Part of input_tokens written to the provider's prompt cache."
    )
    reasoning_tokens: int = Field(
        default=0, ge=0, description="Part of output_tokens the model spent reasoning."
    )
    price_source: str | None = Field(
        default=None, description="Where the prices of cost_usd came from (config, genai-prices)."
    )
    cost_usd: USD
    cached: bool
    outcome: AttemptOutcome
    latency_ms: float = Field(default=0.0, ge=0.0)
    user_tier: UserTier | None = None
    learned_choice: str | None = Field(
        default=None, description="Catalog model the request's learned route chose."
    )
    predicted_score: float | None = Field(
        default=None, description="The learned router's predicted score of its choice."
    )
    unbound: bool = Field(
        default=False,
        description="True for a call no published result carries (its record was cut off "
        "past the grace, or its handler raised), billed by the worker that made it. Its "
        "`attempt` numbers it within that unfinished route, so it may share request_id and "
        "attempt with an attempt of the request's result: another call, billed too.",
    )
    shadow: bool = Field(
        default=False,
        description="A shadow call (a candidate model answering a mirrored request, or the "
        "online judge): counted against the shadow budget, never the task's.",
    )
    ts: UtcDatetime = Field(default_factory=utc_now)

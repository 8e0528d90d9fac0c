"""How good one answer was, on `llm.scores`, keyed by `<task>/<model>`.

A score comes from the online judge (a model grading a sampled live or shadow answer with
the task's rubric), or from feedback that brought the answer's right label (`judge_model`
`label`) or a client's own score or thumbs (`judge_model` `feedback`). Keyed by task and
model, so every score of one model of one task lands on one partition, in order: the
quality worker that reads them keeps that model's live quality and posterior alone.

Shadow answers (a sample of live requests mirrored to candidate models after the live
answer was published) go to `llm.shadow.<task>` as results with `source: shadow`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from llmrouter.schemas.base import RequestId, TaskName, UtcDatetime, WireModel, utc_now
from llmrouter.schemas.money import USD
from llmrouter.schemas.topics import validate_task_name

__all__ = [
    "FEEDBACK_JUDGE",
    "LABEL_JUDGE",
    "SCORES_TOPIC",
    "SHADOW_PATTERN",
    "AnswerSource",
    "Score",
    "score_key",
    "shadow_topic",
]

#: every task's scores, keyed by `<task>/<model>` (`score_key`)
SCORES_TOPIC = "llm.scores"
#: regex of every task's shadow-answer topic
SHADOW_PATTERN = r"^llm\.shadow\.[a-z0-9][a-z0-9-]*$"
#: the judge_model of a score from a label that feedback brought
LABEL_JUDGE = "label"
#: the judge_model of a score or thumbs a client sent as feedback
FEEDBACK_JUDGE = "feedback"

AnswerSource = Literal["live", "shadow"]


def shadow_topic(task: str) -> str:
    """`llm.shadow.<task>`: the shadow answers of a task, as results with `source: shadow`."""
    return f"llm.shadow.{validate_task_name(task)}"


def score_key(task: str, model: str) -> bytes:
    """The Kafka key of a score: one model of one task is one partition."""
    return f"{task}/{model}".encode()


class Score(WireModel):
    """One graded answer."""

    request_id: RequestId
    task: TaskName
    model: str = Field(min_length=1, description="Catalog name of the model that answered.")
    answer_source: AnswerSource = Field(
        default="live", description="`live`: the answer the client got; `shadow`: a mirror's."
    )
    score: float = Field(ge=0.0, le=1.0, description="0 (bad) to 1 (good).")
    judge_model: str = Field(
        min_length=1,
        description="The catalog model that graded it, `label` (feedback's label) or "
        "`feedback` (a client's score or thumbs).",
    )
    cost_usd: USD = Field(default=Decimal(0), description="What grading it cost (0 for feedback).")
    created_at: UtcDatetime = Field(default_factory=utc_now)

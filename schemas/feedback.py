"""What client services learn later about an answer, on `llm.feedback`, keyed by request_id.

One message says one thing (`kind`): a label the answer should have had, a score in 0..1,
thumbs up or down, or how the case was resolved. The field named by `kind` must be set.
Unlike the other messages, unknown fields are refused: feedback is typed in by client
services, and a misspelt field (`lable`) would otherwise be dropped without a word.
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from llmrouter.schemas.base import RequestId, TaskName, UtcDatetime, WireModel, utc_now

__all__ = [
    "FEEDBACK_KINDS",
    "MAX_FEEDBACK_LABEL_CHARS",
    "MAX_FEEDBACK_NAME_CHARS",
    "MAX_FEEDBACK_RESOLUTION_CHARS",
    "Feedback",
    "FeedbackKind",
]

FeedbackKind = Literal["label", "score", "thumbs", "resolution"]
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = ("label", "score", "thumbs", "resolution")

#: the longest label (a class name, a category, an expected short answer)
MAX_FEEDBACK_LABEL_CHARS = 1024
#: the longest resolution note
MAX_FEEDBACK_RESOLUTION_CHARS = 4096
#: the longest model or source name
MAX_FEEDBACK_NAME_CHARS = 256


class Feedback(WireModel):
    """What a client service learned later about the answer to one request."""

    model_config = ConfigDict(extra="forbid")

    request_id: RequestId = Field(description="The request the feedback is about; the Kafka key.")
    task: TaskName
    kind: FeedbackKind = Field(description="Which of label, score, thumbs, resolution is set.")
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEEDBACK_LABEL_CHARS,
        description="The label the answer should have had (e.g. the right class).",
    )
    score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="How good the answer was, 0 (bad) to 1 (good)."
    )
    thumbs: Literal["up", "down"] | None = None
    resolution: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEEDBACK_RESOLUTION_CHARS,
        description="How the case the answer served was resolved, in the client's words.",
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEEDBACK_NAME_CHARS,
        description="The model whose answer it is about, when the client knows.",
    )
    source: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEEDBACK_NAME_CHARS,
        description="Who sent it: a service, a reviewer queue, a user interface.",
    )
    created_at: UtcDatetime = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _kind_field_is_set(self) -> Self:
        if getattr(self, self.kind) is None:
            raise ValueError(f"kind {self.kind!r} needs the field {self.kind!r}")
        if self.score is not None and not math.isfinite(self.score):
            raise ValueError("score must be a finite number in 0..1")
        return self

    def value(self) -> str | float:
        """The field `kind` names."""
        found: str | float | None = getattr(self, self.kind)
        assert found is not None  # the validator guarantees it
        return found

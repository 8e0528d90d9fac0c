"""The config's `classifiers` section: named complexity classifiers, scored by rules or
asked of a model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from llmrouter.router.config_fields import StrictModel

__all__ = ["ClassifierSpec", "LLMClassifierSpec", "RuleSpec", "RulesClassifierSpec"]


class RuleSpec(StrictModel):
    """One feature of the rule classifier; its `weight` adds to the score when it fires.

    Exactly one trigger: `min_chars`, `min_questions`, `min_sentences`, or `any_of` (words
    or phrases, case-insensitive, matched on word boundaries)."""

    name: str
    weight: float
    min_chars: int | None = Field(default=None, ge=1)
    min_questions: int | None = Field(default=None, ge=1)
    min_sentences: int | None = Field(default=None, ge=1)
    any_of: list[str] | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> RuleSpec:
        triggers = [self.min_chars, self.min_questions, self.min_sentences, self.any_of]
        if sum(t is not None for t in triggers) != 1:
            raise ValueError(
                "a rule needs exactly one of min_chars, min_questions, min_sentences, any_of"
            )
        return self


class RulesClassifierSpec(StrictModel):
    kind: Literal["rules"]
    rules: list[RuleSpec] = Field(min_length=1)
    #: score at or above → MEDIUM / COMPLEX
    medium_at: float = 1.0
    complex_at: float = 2.0

    @model_validator(mode="after")
    def _ordered(self) -> RulesClassifierSpec:
        if self.complex_at <= self.medium_at:
            raise ValueError("complex_at must be greater than medium_at")
        return self


class LLMClassifierSpec(StrictModel):
    kind: Literal["llm"]
    model: str
    #: the classifier prompt; `{question}` / `{input}` is the request input
    prompt: str
    max_output_tokens: int = Field(default=10, ge=1)
    #: the rules classifier used when the model call or its reply fails
    fallback: str | None = None


ClassifierSpec = Annotated[RulesClassifierSpec | LLMClassifierSpec, Field(discriminator="kind")]

from __future__ import annotations

from dataclasses import dataclass, field

from llmrouter.schemas import Attempt, Complexity

__all__ = ["ClassifierVerdict"]


@dataclass(frozen=True, slots=True)
class ClassifierVerdict:
    complexity: Complexity
    confidence: float
    #: `rules` or `llm`
    classifier: str
    reason: str | None = None
    #: the provider calls the classifier made (the LLM classifier's, with their cost)
    attempts: list[Attempt] = field(default_factory=list)

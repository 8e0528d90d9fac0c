"""What every complexity classifier gives the engine: one verdict per request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from llmrouter.schemas import Attempt, Complexity, LLMRequest

if TYPE_CHECKING:
    from llmrouter.router.calls import CallLedger

__all__ = ["Classifier", "ClassifierVerdict"]


@dataclass(frozen=True, slots=True)
class ClassifierVerdict:
    complexity: Complexity
    confidence: float
    #: `rules` or `llm`
    classifier: str
    reason: str | None = None
    #: the provider calls the classifier made (the LLM classifier's, with their cost)
    attempts: list[Attempt] = field(default_factory=list)


class Classifier(Protocol):
    """A request's complexity, for a complexity route: the rules (no call) or a cheap
    model (calls booked in the request's ledger, the rules answering when it cannot)."""

    async def complexity_of(self, request: LLMRequest, ledger: CallLedger) -> ClassifierVerdict:
        """The verdict on `request`; never raises for a model that cannot answer."""
        ...

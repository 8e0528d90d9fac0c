"""The LLM classifier: a cheap model reads the question and answers one word.

One call, no retries: the rules are the fallback, and a classifier that waits on backoff
costs more latency than it saves. Its reply is parsed tolerantly; a failed call or an
unreadable reply gets the rule classifier's verdict instead.
"""

from __future__ import annotations

import re

import structlog

from llmrouter.core.errors import CallBudgetExhausted
from llmrouter.router.calls import MODEL_UNAVAILABLE, CallLedger, ModelCaller
from llmrouter.router.classifiers.base import ClassifierVerdict
from llmrouter.router.classifiers.rules import RuleClassifier
from llmrouter.router.config import LLMClassifierSpec
from llmrouter.router.prompts import RenderedPrompt, fill_markers
from llmrouter.schemas import Complexity, LLMRequest

__all__ = ["LLM_CONFIDENCE", "LLMClassifier", "parse_complexity"]

log = structlog.get_logger("llmrouter.router")

#: the confidence of a model's one-word verdict: the reply carries none of its own
LLM_CONFIDENCE = 0.85

#: a classifier call failing with these falls back to the rules
_UNAVAILABLE: tuple[type[Exception], ...] = (*MODEL_UNAVAILABLE, CallBudgetExhausted)

_LEVEL = re.compile(r"\b(SIMPLE|MEDIUM|COMPLEX)\b", re.IGNORECASE)


def parse_complexity(reply: str) -> Complexity | None:
    """The first level named in the reply ("Classification: **Simple**." → SIMPLE), or None."""
    match = _LEVEL.search(reply)
    return Complexity(match.group(1).upper()) if match else None


class LLMClassifier:
    """The `Classifier` that asks `spec.model`, with `fallback` when it cannot answer."""

    def __init__(
        self, spec: LLMClassifierSpec, caller: ModelCaller, fallback: RuleClassifier
    ) -> None:
        self._spec = spec
        self._caller = caller
        self._fallback = fallback

    async def complexity_of(self, request: LLMRequest, ledger: CallLedger) -> ClassifierVerdict:
        level = await self._ask(request, ledger)
        if level is None:
            return self._fallback.classify(request.input)
        return ClassifierVerdict(level, LLM_CONFIDENCE, "llm", f"llm: {self._spec.model}")

    async def _ask(self, request: LLMRequest, ledger: CallLedger) -> Complexity | None:
        """The model's verdict, its call booked in `ledger`; None when there is none."""
        spec = self._spec
        prompt = RenderedPrompt(
            system=None,
            user=fill_markers(spec.prompt, request.input),
            json_mode=False,
            version="classifier",
        )
        try:
            completion = await self._caller.call_once(
                spec.model,
                prompt,
                ledger,
                max_output_tokens=spec.max_output_tokens,
                purpose="classify",
            )
        except _UNAVAILABLE as exc:
            log.warning("classifier failed; using rules", model=spec.model, error=str(exc))
            return None
        level = parse_complexity(completion.text)
        if level is None:
            log.warning("classifier reply unreadable; using rules", model=spec.model)
        return level

"""The rule classifier: no API call, microseconds. The rules are data (the config's
`classifiers.<name>.rules`); this only scores them."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

from llmrouter.router.classifiers.base import ClassifierVerdict
from llmrouter.router.config import RulesClassifierSpec, RuleSpec
from llmrouter.schemas import Complexity, LLMRequest

if TYPE_CHECKING:
    from llmrouter.router.calls import CallLedger

__all__ = ["RuleClassifier"]

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


class _CompiledRule:
    __slots__ = ("name", "spec", "weight", "words")

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.weight = spec.weight
        self.words = tuple(w.lower() for w in spec.any_of) if spec.any_of else ()

    def fires(self, text: str, lowered: str) -> bool:
        s = self.spec
        if s.min_chars is not None:
            return len(text) >= s.min_chars
        if s.min_questions is not None:
            return text.count("?") >= s.min_questions
        if s.min_sentences is not None:
            found = itertools.islice(_SENTENCE_END.finditer(text), s.min_sentences)
            return sum(1 for _ in found) >= s.min_sentences
        return any(_has_word(lowered, word) for word in self.words)


def _has_word(lowered: str, word: str) -> bool:
    """`word` in the text on word boundaries. A substring search in C, then a look at the
    characters either side, is ~10x faster than one case-insensitive regex per rule."""
    start = lowered.find(word)
    while start != -1:
        end = start + len(word)
        before = lowered[start - 1] if start else " "
        after = lowered[end] if end < len(lowered) else " "
        if not _is_word_char(before) and not _is_word_char(after):
            return True
        start = lowered.find(word, start + 1)
    return False


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


class RuleClassifier:
    def __init__(self, spec: RulesClassifierSpec) -> None:
        self._rules = [_CompiledRule(r) for r in spec.rules]
        self._medium_at = spec.medium_at
        self._complex_at = spec.complex_at

    async def complexity_of(self, request: LLMRequest, ledger: CallLedger) -> ClassifierVerdict:
        """The `Classifier` interface: the rules make no call, so the ledger is untouched."""
        return self.classify(request.input)

    def classify(self, text: str) -> ClassifierVerdict:
        score = 0.0
        fired = []
        lowered = text.lower()
        for rule in self._rules:
            if rule.fires(text, lowered):
                score += rule.weight
                fired.append(rule.name)
        if score >= self._complex_at:
            level, edge = Complexity.COMPLEX, self._complex_at
        elif score >= self._medium_at:
            level, edge = Complexity.MEDIUM, self._medium_at
        else:
            level, edge = Complexity.SIMPLE, self._medium_at
        # Confidence grows with the distance from the nearest threshold.
        confidence = min(1.0, 0.6 + 0.2 * abs(score - edge))
        reason = "rules: " + (", ".join(fired) if fired else "none fired")
        return ClassifierVerdict(level, round(confidence, 3), "rules", reason)

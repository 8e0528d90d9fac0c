"""The rule classifier: no API call, microseconds. The rules are data (the config's
`classifiers.<name>.rules`); this only scores them."""

from __future__ import annotations

import re

from router.classifiers.base import ClassifierVerdict
from router.config import RulesClassifierSpec, RuleSpec
from schemas import Complexity

__all__ = ["RuleClassifier"]

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


class _CompiledRule:
    __slots__ = ("name", "spec", "weight", "words")

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.weight = spec.weight
        self.words = (
            re.compile(
                r"\b(?:" + "|".join(re.escape(w) for w in spec.any_of) + r")\b", re.IGNORECASE
            )
            if spec.any_of
            else None
        )

    def fires(self, text: str) -> bool:
        s = self.spec
        if s.min_chars is not None:
            return len(text) >= s.min_chars
        if s.min_questions is not None:
            return text.count("?") >= s.min_questions
        if s.min_sentences is not None:
            return len(_SENTENCE_END.findall(text)) >= s.min_sentences
        assert self.words is not None
        return self.words.search(text) is not None


class RuleClassifier:
    name = "rules"

    def __init__(self, spec: RulesClassifierSpec) -> None:
        self._rules = [_CompiledRule(r) for r in spec.rules]
        self._medium_at = spec.medium_at
        self._complex_at = spec.complex_at

    def classify(self, text: str) -> ClassifierVerdict:
        score = 0.0
        fired = []
        for rule in self._rules:
            if rule.fires(text):
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

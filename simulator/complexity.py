"""The LLM classifier's complexity prompt, answered by simple heuristics of the question.

"Classify this customer question as SIMPLE, MEDIUM, or COMPLEX ... Question: {question}"
gets one word. The score counts distinct issue areas (billing, account, legal, policy,
technical), extra questions and sentences, and length: 0 → SIMPLE, 1 → MEDIUM, 2+ → COMPLEX.
So "How do I reset my password?" is SIMPLE, "I was charged twice for the same order, what
should I do?" is MEDIUM and "I was charged incorrectly and my account is suspended" is
COMPLEX.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEVELS = ("SIMPLE", "MEDIUM", "COMPLEX")

_QUESTION = re.compile(
    r"Question:\s*(.*?)\s*(?:\n\s*Classification:|\Z)", re.DOTALL | re.IGNORECASE
)
_WORD = re.compile(r"[a-z0-9']+")

_CUES: dict[str, frozenset[str]] = {
    "billing": _words(
        "charged charge charges refund refunds invoice invoices billing billed "
        "bill payment payments overcharged subscription card fee fees price "
        "pricing"
    ),
    "account": _words(
        "suspended suspension locked banned deactivated closed hacked "
        "compromised unauthorized fraud"
    ),
    "legal": _words(
        "legal lawyer lawsuit sue gdpr ccpa compliance contract liability court "
        "attorney regulation regulations"
    ),
    "policy": _words("policy policies terms exception exceptions appeal dispute warranty"),
    "escalation": _words(
        "urgent immediately unacceptable complaint escalate manager frustrated angry again still"
    ),
}


def is_complexity_prompt(lowered_prompt: str) -> bool:
    """A prompt asking to classify something as SIMPLE, MEDIUM or COMPLEX."""
    return (
        "classif" in lowered_prompt
        and "simple" in lowered_prompt
        and "medium" in lowered_prompt
        and "complex" in lowered_prompt
    )


def extract_question(prompt: str) -> str:
    """The text after "Question:" up to "Classification:" (or the whole prompt)."""
    found = _QUESTION.search(prompt)
    return found.group(1).strip() if found else prompt.strip()


def classify(question: str) -> str:
    """SIMPLE, MEDIUM or COMPLEX by the heuristics described in the module docstring."""
    lowered = question.lower()
    words = _WORD.findall(lowered)
    present = set(words)
    score = sum(1 for cues in _CUES.values() if present & cues)
    score += min(2, max(0, lowered.count("?") - 1))
    sentences = [s for s in re.split(r"[.!?]+", question) if s.strip()]
    if len(sentences) >= 3:
        score += 1
    if len(words) > 40:
        score += 1
    if len(words) > 80:
        score += 1
    return LEVELS[min(score, 2)]

"""The LLM classifier: a cheap model reads the question and answers one word.
Its reply is parsed tolerantly; any failure falls back to the rule classifier."""

from __future__ import annotations

import re

from llmrouter.schemas import Complexity

__all__ = ["parse_complexity"]

_LEVEL = re.compile(r"\b(SIMPLE|MEDIUM|COMPLEX)\b", re.IGNORECASE)


def parse_complexity(reply: str) -> Complexity | None:
    """The first level named in the reply ("Classification: **Simple**." → SIMPLE), or None."""
    match = _LEVEL.search(reply)
    return Complexity(match.group(1).upper()) if match else None

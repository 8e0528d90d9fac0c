"""The simulator's token arithmetic: a cheap deterministic estimate, ceil(chars / 4), min 1.

Prompt tokens are estimated over the system prompt and every message's text joined by
newlines; completion tokens over the answer text. Callers that check cost accounting can
recompute both with `estimate_tokens`.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """ceil(len(text) / 4), at least 1."""
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def truncate_to_tokens(text: str, max_tokens: int) -> tuple[str, bool]:
    """The longest prefix of `text` that fits in `max_tokens`, and whether it was cut."""
    limit = max(0, max_tokens) * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text, False
    return text[:limit], True

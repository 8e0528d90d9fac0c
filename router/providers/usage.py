"""Token estimates, for budgeting rate limits before a call and for servers without usage."""

from __future__ import annotations

__all__ = ["estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; never zero for a non-empty text."""
    return max(1, (len(text) + 3) // 4) if text else 0

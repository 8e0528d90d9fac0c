"""Token estimates, for budgeting rate limits before a call and for servers without usage."""

from __future__ import annotations

__all__ = ["OPENAI_MIN_CACHED_TOKENS", "anthropic_min_cacheable_tokens", "estimate_tokens"]

#: OpenAI caches a prompt's prefix by itself once the prompt reaches this many tokens
OPENAI_MIN_CACHED_TOKENS = 1024


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; never zero for a non-empty text."""
    return max(1, (len(text) + 3) // 4) if text else 0


def anthropic_min_cacheable_tokens(model_id: str) -> int:
    """The shortest prompt prefix Anthropic caches: 2,048 tokens on Haiku models, 1,024 on
    the others; a breakpoint on a shorter one is ignored."""
    return 2048 if "haiku" in model_id else 1024

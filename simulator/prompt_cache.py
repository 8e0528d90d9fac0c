"""The providers' prompt caches, per model, with their minimum lengths and TTLs.

The simulator counts tokens as characters / 4 (`tokens.py`), so a prefix of N tokens is the
first 4·N characters of the prompt text (system text and messages joined by newlines, as
`Prompt.text`). The cache only changes the usage a reply reports — never its answer or its
latency.

OpenAI (automatic): a prompt of at least 1024 tokens is cached in 128-token increments
(1024, 1152, ...); a later prompt to the same model sharing such a prefix reports the
longest cached one as `prompt_tokens_details.cached_tokens`, part of `prompt_tokens`.
Entries live 5 minutes after their last use (OpenAI: "5 to 10 minutes of inactivity").

Anthropic (explicit): each `cache_control` breakpoint marks the prompt up to the end of its
block. A breakpoint prefix shorter than the model's minimum (1024 tokens; 2048 for Haiku
models) is not cached. The longest breakpoint prefix already cached is read
(`cache_read_input_tokens`); the rest up to the last cacheable breakpoint is written
(`cache_creation_input_tokens`, split by TTL in `cache_creation`), with the breakpoint's
TTL: 5 minutes, or 1 hour for `{"ttl": "1h"}`. A read refreshes the entry's TTL.
`input_tokens` is then what is neither read nor written.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llmrouter.simulator.tokens import CHARS_PER_TOKEN, estimate_tokens

__all__ = [
    "ANTHROPIC_MIN_TOKENS",
    "HAIKU_MIN_TOKENS",
    "OPENAI_INCREMENT_TOKENS",
    "OPENAI_MIN_TOKENS",
    "TTL_1H_S",
    "TTL_5M_S",
    "Breakpoint",
    "CacheUsage",
    "PromptCache",
]

OPENAI_MIN_TOKENS = 1024
OPENAI_INCREMENT_TOKENS = 128
ANTHROPIC_MIN_TOKENS = 1024
HAIKU_MIN_TOKENS = 2048
TTL_5M_S = 300.0
TTL_1H_S = 3600.0
#: expired entries are swept after this many writes, so a long load test stays bounded
_SWEEP_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """An Anthropic `cache_control` mark: the prompt text up to `end_char` is cacheable."""

    end_char: int
    ttl_s: float = TTL_5M_S


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """The cache's share of a prompt's tokens (parts of the prompt tokens)."""

    read_tokens: int = 0
    write_5m_tokens: int = 0
    write_1h_tokens: int = 0

    @property
    def write_tokens(self) -> int:
        return self.write_5m_tokens + self.write_1h_tokens


NO_CACHE = CacheUsage()


def _prefix_digests(model: str, text: str, ends: Sequence[int]) -> list[str]:
    """A digest of `text[:end]` for each end, ascending, hashing the text once."""
    digest = hashlib.blake2b(model.encode() + b"\x00", digest_size=16)
    out: list[str] = []
    done = 0
    for end in ends:
        digest.update(text[done:end].encode())
        done = end
        out.append(digest.copy().hexdigest())
    return out


class PromptCache:
    """Cached prefixes of every model, each with its expiry (in `clock` seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._writes = 0

    def clear(self) -> None:
        self._expiry.clear()

    def _live(self, key: str, now: float) -> bool:
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry <= now:
            del self._expiry[key]
            return False
        return True

    def _keep(self, key: str, until: float) -> None:
        self._expiry[key] = max(self._expiry.get(key, 0.0), until)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            self._expiry = {k: v for k, v in self._expiry.items() if v > now}

    def __len__(self) -> int:
        """Entries kept, expired ones not yet swept included."""
        return len(self._expiry)

    def openai(self, model: str, text: str) -> CacheUsage:
        """Automatic prefix caching of one OpenAI prompt: its cached tokens, and every
        128-token prefix from 1024 tokens up kept for the next call."""
        tokens = estimate_tokens(text)
        if tokens < OPENAI_MIN_TOKENS:
            return NO_CACHE
        lengths = range(OPENAI_MIN_TOKENS, tokens + 1, OPENAI_INCREMENT_TOKENS)
        ends = [min(len(text), n * CHARS_PER_TOKEN) for n in lengths]
        keys = _prefix_digests(model, text, ends)
        now = self._clock()
        cached = 0
        for n, key in zip(lengths, keys, strict=True):
            if self._live(key, now):
                cached = n
        for key in keys:
            self._keep(key, now + TTL_5M_S)
        return CacheUsage(read_tokens=cached)

    def anthropic(self, model: str, text: str, breakpoints: Sequence[Breakpoint]) -> CacheUsage:
        """One Anthropic prompt with its `cache_control` breakpoints."""
        minimum = HAIKU_MIN_TOKENS if "haiku" in model.lower() else ANTHROPIC_MIN_TOKENS
        marks = sorted(
            (b for b in breakpoints if estimate_tokens(text[: b.end_char]) >= minimum),
            key=lambda b: b.end_char,
        )
        if not marks:
            return NO_CACHE
        keys = _prefix_digests(model, text, [min(len(text), b.end_char) for b in marks])
        now = self._clock()
        hit = -1
        for i, key in enumerate(keys):
            if self._live(key, now):
                hit = i
        read = estimate_tokens(text[: marks[hit].end_char]) if hit >= 0 else 0
        if hit >= 0:  # a read refreshes the entry
            self._keep(keys[hit], now + marks[hit].ttl_s)
        write_5m = write_1h = 0
        covered = read
        for mark, key in zip(marks[hit + 1 :], keys[hit + 1 :], strict=True):
            upto = estimate_tokens(text[: mark.end_char])
            if mark.ttl_s >= TTL_1H_S:
                write_1h += upto - covered
            else:
                write_5m += upto - covered
            covered = upto
            self._keep(key, now + mark.ttl_s)
        return CacheUsage(read_tokens=read, write_5m_tokens=write_5m, write_1h_tokens=write_1h)

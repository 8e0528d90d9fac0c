"""The one small interface every provider client implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ChatRequest", "Completion", "ProviderClient"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model_id: str
    system: str | None
    user: str
    max_output_tokens: int
    temperature: float
    timeout_s: float
    #: ask the provider for a JSON object where it supports it (the prompt asks too)
    json_mode: bool = False
    #: characters of `user` that are the same across requests (a cacheable prefix), and how
    #: long a provider that takes cache breakpoints should keep it ("5m", "1h"; None: none)
    cache_prefix_chars: int = 0
    cache_ttl: str | None = None
    #: the JSON Schema the answer must follow (the task's `prompt.response_schema`): each
    #: provider is asked through its native structured output (structured.py)
    response_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    #: the model id the provider says answered (may be more specific than the one asked)
    model_version: str
    finish_reason: str | None = None
    #: parts of `input_tokens` the provider billed as prompt-cache reads and writes
    #: (`cache_write_1h_tokens` is the part of the writes kept for an hour)
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    #: the part of `output_tokens` the model spent reasoning
    reasoning_tokens: int = 0


class ProviderClient(Protocol):
    """Makes one call, no retries (ours is the only retry layer); raises ProviderError."""

    provider: str

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def aclose(self) -> None: ...

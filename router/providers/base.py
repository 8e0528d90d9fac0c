"""The one small interface every provider client implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    #: the model id the provider says answered (may be more specific than the one asked)
    model_version: str
    finish_reason: str | None = None


class ProviderClient(Protocol):
    """Makes one call, no retries (ours is the only retry layer); raises ProviderError."""

    provider: str

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def aclose(self) -> None: ...

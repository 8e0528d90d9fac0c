"""What the batch worker asks of a provider's batch API, whichever provider it is.

A job is created once under our job id: OpenAI keeps it as the batch's metadata, and
every request's `custom_id` starts with it (`<job_id>-<n>`), so a worker that crashed
between creating a job and recording the provider's id finds it again (`find`) instead
of creating a second one. Every SDK error is translated into ours at this boundary
(router/providers/errors.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from llmrouter.router.providers.errors import translate_sdk_error

__all__ = ["WAIT", "BatchClient", "BatchLine", "BatchStatus", "LineOutcome", "custom_id"]

#: `find`'s answer when it cannot tell yet whether the job was created (look again later)
WAIT: Literal["wait"] = "wait"


def custom_id(job_id: str, offset: int) -> str:
    """A request's id within its job: the job id, then the entry's offset."""
    return f"{job_id}-{offset}"


@dataclass(frozen=True, slots=True)
class BatchLine:
    custom_id: str
    #: the provider call's JSON body
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BatchStatus:
    batch_id: str
    #: the provider's own word: validating, in_progress, finalizing, completed, expired,
    #: cancelling, cancelled, failed (OpenAI); in_progress, canceling, ended (Anthropic)
    status: str
    #: no request of the job will be answered from now on
    ended: bool


@dataclass(frozen=True, slots=True)
class LineOutcome:
    custom_id: str
    #: the answer's body (a chat completion, a message) when the request was answered
    body: dict[str, Any] | None
    #: why not, when it was not (an error, `expired`, `canceled`)
    error: str | None = None


class BatchClient(Protocol):
    provider: str

    async def find(
        self,
        job_id: str,
        *,
        created_after: datetime,
        requests: int,
        taken: Collection[str] = (),
    ) -> str | Literal["wait"] | None:
        """The provider's id of the job created under `job_id` (opened at `created_after`,
        of `requests` requests; `taken`: provider ids other jobs have), None when there is
        none, WAIT when that cannot be told yet."""
        ...

    async def create(self, job_id: str, lines: Sequence[BatchLine]) -> str:
        """Create the job; its provider id."""
        ...

    async def retrieve(self, batch_id: str) -> BatchStatus: ...

    async def results(self, batch_id: str) -> list[LineOutcome]:
        """Every answered and unanswered request of an ended job."""
        ...

    async def cancel(self, batch_id: str) -> None: ...

    async def aclose(self) -> None: ...


class SdkBatchClient:
    """What both providers' batch clients share: the SDK client, and its errors translated
    into ours at the boundary."""

    provider = ""

    def __init__(self, sdk_client: Any, *, model: str, error: type[BaseException]) -> None:
        self._client = sdk_client
        self._model = model
        self._error = error

    @contextlib.asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        try:
            yield
        except self._error as exc:
            raise translate_sdk_error(exc, model=self._model, provider=self.provider) from None

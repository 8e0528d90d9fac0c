"""Anthropic's Message Batches through the `anthropic` SDK: `messages.batches.create` with
one `{custom_id, params}` per request (`params` is the Messages body), `retrieve` until
`processing_status` is `ended`, then `results` (a JSONL stream: succeeded, errored,
canceled or expired per request).

Anthropic's batches carry no metadata, so `find` knows a job by what its list shows: a
batch created since the job was opened (less the clock-skew allowance), with as many
requests. It decides at once:

- an ended candidate is told by its requests' custom ids (our job id is their prefix):
  ours, or not ours and passed over;
- otherwise an unended candidate, not `taken` by another of the worker's jobs, is taken
  as ours (the earliest created). Another worker's job of the same size made meanwhile
  could be mistaken for it: the batch worker checks the custom ids when the batch ends
  and, when they are not ours, looks again (workers/batch/owner.py);
- no candidate: None (create it) once the clock-skew window after the job was opened has
  passed, WAIT until then (a batch just made may not be listed yet).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from llmrouter.router.providers.batch_base import (
    WAIT,
    BatchLine,
    BatchStatus,
    LineOutcome,
    SdkBatchClient,
)

__all__ = ["AnthropicBatchClient"]

_CLOCK_SKEW = timedelta(seconds=60)


class AnthropicBatchClient(SdkBatchClient):
    provider = "anthropic"

    def __init__(
        self,
        sdk_client: Any,
        *,
        model: str,
        now: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        import anthropic

        super().__init__(sdk_client, model=model, error=anthropic.AnthropicError)
        self._now = now

    async def find(
        self,
        job_id: str,
        *,
        created_after: datetime,
        requests: int,
        taken: Collection[str] = (),
    ) -> str | Literal["wait"] | None:
        since = created_after - _CLOCK_SKEW
        candidates = []
        async with self._translated():
            async for batch in self._client.messages.batches.list(limit=100):
                if batch.created_at < since:  # newest first
                    break
                counts = batch.request_counts
                total = (
                    counts.processing
                    + counts.succeeded
                    + counts.errored
                    + counts.canceled
                    + counts.expired
                )
                if total == requests and str(batch.id) not in taken:
                    candidates.append(batch)
            unended = []
            for batch in candidates:
                if batch.processing_status != "ended":
                    unended.append(batch)
                    continue
                async for row in await self._client.messages.batches.results(batch.id):
                    if row.custom_id.startswith(f"{job_id}-"):
                        return str(batch.id)
                    break
        if unended:  # the list shows a job of ours' size made since: taken as ours
            return str(min(unended, key=lambda batch: batch.created_at).id)
        if self._now() < created_after + _CLOCK_SKEW:
            return WAIT
        return None

    async def create(self, job_id: str, lines: Sequence[BatchLine]) -> str:
        async with self._translated():
            batch = await self._client.messages.batches.create(
                requests=[{"custom_id": line.custom_id, "params": line.body} for line in lines]
            )
        return str(batch.id)

    async def retrieve(self, batch_id: str) -> BatchStatus:
        async with self._translated():
            batch = await self._client.messages.batches.retrieve(batch_id)
        status = str(batch.processing_status)
        return BatchStatus(batch_id, status, status == "ended")

    async def results(self, batch_id: str) -> list[LineOutcome]:
        outcomes: list[LineOutcome] = []
        async with self._translated():
            async for row in await self._client.messages.batches.results(batch_id):
                outcomes.append(_outcome(row))
        return outcomes

    async def aclose(self) -> None:
        await self._client.close()

    async def cancel(self, batch_id: str) -> None:
        async with self._translated():
            await self._client.messages.batches.cancel(batch_id)


def _outcome(row: Any) -> LineOutcome:
    result = row.result
    kind = str(result.type)
    if kind == "succeeded":
        return LineOutcome(row.custom_id, result.message.model_dump(mode="json"))
    if kind == "errored":
        error = getattr(result.error, "error", None)
        message = getattr(error, "message", None) or str(result.error)
        return LineOutcome(row.custom_id, None, f"errored: {message}")
    return LineOutcome(row.custom_id, None, kind)  # canceled, expired

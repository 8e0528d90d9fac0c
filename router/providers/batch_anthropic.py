"""Anthropic's Message Batches through the `anthropic` SDK: `messages.batches.create` with
one `{custom_id, params}` per request (`params` is the Messages body), `retrieve` until
`processing_status` is `ended`, then `results` (a JSONL stream: succeeded, errored,
canceled or expired per request).

Anthropic's batches carry no metadata, so `find` knows a job by what it can see: a batch
created since the job was opened, with as many requests; when several could be it, the
ended ones are told apart by their requests' custom ids (our job id is their prefix), and
until then the answer is WAIT.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
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

    def __init__(self, sdk_client: Any, *, model: str) -> None:
        import anthropic

        super().__init__(sdk_client, model=model, error=anthropic.AnthropicError)

    async def find(
        self, job_id: str, *, created_after: datetime, requests: int
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
                if total == requests:
                    candidates.append(batch)
            if not candidates:
                return None
            waiting = False
            for batch in candidates:
                if batch.processing_status != "ended":
                    waiting = True
                    continue
                async for row in await self._client.messages.batches.results(batch.id):
                    if row.custom_id.startswith(f"{job_id}-"):
                        return str(batch.id)
                    break
        return WAIT if waiting else None

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

"""OpenAI's Batch API through the `openai` SDK: the requests as a JSONL file
(`files.create(purpose="batch")`), then `batches.create` on `/v1/chat/completions` with a
24 h window and our job id in the metadata; the answers come back in the output file,
the failed and expired requests in the error file."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Literal

import orjson

from llmrouter.router.providers.batch_base import (
    BatchLine,
    BatchStatus,
    LineOutcome,
    SdkBatchClient,
)

__all__ = ["JOB_METADATA_KEY", "OpenAIBatchClient"]

#: the metadata key that carries our job id on the provider's batch
JOB_METADATA_KEY = "llmrouter_job"
_ENDED = frozenset({"completed", "expired", "cancelled", "failed"})
_ENDPOINT: Literal["/v1/chat/completions"] = "/v1/chat/completions"


class OpenAIBatchClient(SdkBatchClient):
    provider = "openai"

    def __init__(self, sdk_client: Any, *, model: str) -> None:
        import openai

        super().__init__(sdk_client, model=model, error=openai.OpenAIError)

    async def find(
        self,
        job_id: str,
        *,
        created_after: datetime,
        requests: int,
        taken: Collection[str] = (),
    ) -> str | Literal["wait"] | None:
        """Exact: the batch whose metadata names `job_id` (`taken` is not needed)."""
        since = int(created_after.timestamp()) - 60
        async with self._translated():
            async for batch in self._client.batches.list(limit=100):
                if (batch.metadata or {}).get(JOB_METADATA_KEY) == job_id:
                    return str(batch.id)
                if batch.created_at < since:  # newest first: older ones cannot be ours
                    break
        return None

    async def create(self, job_id: str, lines: Sequence[BatchLine]) -> str:
        content = b"".join(
            orjson.dumps(
                {"custom_id": line.custom_id, "method": "POST", "url": _ENDPOINT, "body": line.body}
            )
            + b"\n"
            for line in lines
        )
        async with self._translated():
            uploaded = await self._client.files.create(
                file=(f"{job_id}.jsonl", content), purpose="batch"
            )
            batch = await self._client.batches.create(
                input_file_id=uploaded.id,
                endpoint=_ENDPOINT,
                completion_window="24h",
                metadata={JOB_METADATA_KEY: job_id},
            )
        return str(batch.id)

    async def retrieve(self, batch_id: str) -> BatchStatus:
        async with self._translated():
            batch = await self._client.batches.retrieve(batch_id)
        return BatchStatus(batch_id, str(batch.status), batch.status in _ENDED)

    async def results(self, batch_id: str) -> list[LineOutcome]:
        async with self._translated():
            batch = await self._client.batches.retrieve(batch_id)
            outcomes: list[LineOutcome] = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    content = await self._client.files.content(file_id)
                    outcomes += [_outcome(line) for line in content.content.splitlines() if line]
        return outcomes

    async def aclose(self) -> None:
        await self._client.close()

    async def cancel(self, batch_id: str) -> None:
        async with self._translated():
            await self._client.batches.cancel(batch_id)


def _outcome(line: bytes) -> LineOutcome:
    row = orjson.loads(line)
    custom = str(row.get("custom_id"))
    response = row.get("response")
    if isinstance(response, dict) and response.get("status_code") == 200:
        body = response.get("body")
        if isinstance(body, dict):
            return LineOutcome(custom, body)
    error = row.get("error")
    if isinstance(error, dict):
        return LineOutcome(custom, None, f"{error.get('code')}: {error.get('message')}")
    if isinstance(response, dict):
        inner = (response.get("body") or {}).get("error") or {}
        message = inner.get("message") if isinstance(inner, dict) else None
        return LineOutcome(custom, None, f"status {response.get('status_code')}: {message}")
    return LineOutcome(custom, None, "no answer")

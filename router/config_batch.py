"""A catalog model's `batch_api`: its `priority: batch` requests go through the provider's
batch API (OpenAI's Batch API, Anthropic's Message Batches) at the batch price, collected
into jobs by the batch worker (workers/batch/) under this flush policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from llmrouter.router.config_fields import StrictModel

__all__ = ["BATCH_PROVIDERS", "PROVIDER_LIMITS", "BatchApiSpec"]

#: the providers with a batch API, and the most requests and bytes one of their jobs holds
PROVIDER_LIMITS: dict[str, tuple[int, int]] = {
    "openai": (50_000, 200 * 1024 * 1024),
    "anthropic": (100_000, 256 * 1024 * 1024),
}
BATCH_PROVIDERS = frozenset(PROVIDER_LIMITS)


class BatchApiSpec(StrictModel):
    """When a job of this model's batch-priority requests is submitted, and what becomes of
    a request the job does not answer."""

    #: the most requests one job holds (the provider's own limit is the ceiling)
    max_requests: int = Field(default=10_000, ge=1)
    #: the most bytes of request bodies one job holds (the provider's limit is the ceiling)
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    #: the longest the first request of a job waits before the job is submitted
    max_wait_s: float = Field(default=60.0, gt=0)
    #: a request the job does not answer (an error, an expired or cancelled job): routed
    #: as a normal request (`realtime`), or given a `failed` result (`fail`)
    fallback: Literal["realtime", "fail"] = "realtime"
    #: how long a job is expected to take; a request whose `deadline` falls before now plus
    #: this is not batched (the providers' window is 24 h)
    expected_completion_s: float = Field(default=86_400.0, gt=0)
    #: seconds between two looks at a submitted job
    poll_s: float = Field(default=30.0, gt=0)

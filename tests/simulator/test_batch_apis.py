"""The simulator's batch APIs through the real SDKs, via the router's batch clients: a job
created once under our job id (found again by it), answered at once, per-request failures
and expiry as knobs, each request billed once in the call journal."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anthropic
import openai
import pytest
from aiohttp import web

from llmrouter.router.providers.batch_anthropic import AnthropicBatchClient
from llmrouter.router.providers.batch_base import BatchLine, custom_id
from llmrouter.router.providers.batch_openai import OpenAIBatchClient
from llmrouter.simulator import SimConfig, create_app, running
from llmrouter.simulator.app import engine_of
from llmrouter.simulator.batches import store_of

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def sim() -> AsyncIterator[tuple[web.Application, str]]:
    app = create_app(SimConfig(latency_ms=0, seed=1))
    async with running(app=app) as url:
        yield app, url


def _openai_lines(job: str, n: int, marker: str = "") -> list[BatchLine]:
    return [
        BatchLine(
            custom_id(job, i),
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"{marker if i == 0 else ''}q {i}"}],
                "max_completion_tokens": 32,
            },
        )
        for i in range(n)
    ]


async def test_openai_batch_is_created_once_and_answered(sim: tuple[web.Application, str]) -> None:
    app, url = sim
    sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-t")
    client = OpenAIBatchClient(sdk, model="m")
    async with sdk:
        await _created_once(app, client)


async def _created_once(app: web.Application, client: OpenAIBatchClient) -> None:
    opened = datetime.now(tz=UTC)
    assert await client.find("job-a", created_after=opened, requests=3) is None
    batch_id = await client.create("job-a", _openai_lines("job-a", 3, "[[sim:fault=500]]"))
    # a worker that crashed before recording the id finds the same job
    assert await client.find("job-a", created_after=opened, requests=3) == batch_id
    status = await client.retrieve(batch_id)
    assert status.ended
    assert status.status == "completed"
    outcomes = {o.custom_id: o for o in await client.results(batch_id)}
    assert set(outcomes) == {custom_id("job-a", i) for i in range(3)}
    assert outcomes[custom_id("job-a", 0)].body is None  # the marked request failed
    assert "500" in (outcomes[custom_id("job-a", 0)].error or "")
    assert all(outcomes[custom_id("job-a", i)].body is not None for i in (1, 2))
    billed = Counter(c.api for c in engine_of(app).journal.calls() if c.outcome == "ok")
    assert billed == {"openai-batch": 2}
    assert [job.requests for job in store_of(app).created] == [3]


async def test_openai_batch_over_the_limit_fails_and_expiry_leaves_requests_unanswered(
    sim: tuple[web.Application, str],
) -> None:
    app, url = sim
    sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-t")
    client = OpenAIBatchClient(sdk, model="m")
    async with sdk:
        await _limits(app, client)


async def _limits(app: web.Application, client: OpenAIBatchClient) -> None:
    store = store_of(app)
    store.knobs = store.knobs.model_copy(update={"max_requests": 2})
    too_big = await client.create("job-b", _openai_lines("job-b", 3))
    assert (await client.retrieve(too_big)).status == "failed"
    store.knobs = store.knobs.model_copy(
        update={"max_requests": 0, "expire": True, "expire_after": 1}
    )
    expiring = await client.create("job-c", _openai_lines("job-c", 3))
    assert (await client.retrieve(expiring)).status == "expired"
    outcomes = await client.results(expiring)
    assert sorted(o.body is not None for o in outcomes) == [False, False, True]
    assert all("batch_expired" in (o.error or "") for o in outcomes if o.body is None)


async def test_anthropic_batch_results_and_cancel(sim: tuple[web.Application, str]) -> None:
    app, url = sim
    sdk = anthropic.AsyncAnthropic(base_url=url, api_key="sk-t")
    async with sdk:
        await _anthropic(app, AnthropicBatchClient(sdk, model="m"))


async def _anthropic(app: web.Application, client: AnthropicBatchClient) -> None:
    store = store_of(app)
    lines = [
        BatchLine(
            custom_id("job-d", i),
            {
                "model": "claude-3-haiku-20240307",
                "max_tokens": 32,
                "messages": [{"role": "user", "content": f"question {i}"}],
            },
        )
        for i in range(4)
    ]
    opened = datetime.now(tz=UTC)
    batch_id = await client.create("job-d", lines)
    status = await client.retrieve(batch_id)
    assert status.ended
    assert status.status == "ended"
    assert await client.find("job-d", created_after=opened, requests=4) == batch_id
    outcomes = await client.results(batch_id)
    assert len(outcomes) == 4
    assert all(o.body is not None for o in outcomes)
    # a job still processing is cancelled: none of its requests is answered or billed
    store.knobs = store.knobs.model_copy(update={"processing_s": 3600})
    slow = await client.create("job-e", lines[:2])
    assert not (await client.retrieve(slow)).ended
    await client.cancel(slow)
    assert (await client.retrieve(slow)).ended
    assert [o.error for o in await client.results(slow)] == ["canceled", "canceled"]
    billed = Counter(c.api for c in engine_of(app).journal.calls() if c.outcome == "ok")
    assert billed == {"anthropic-batch": 4}

"""Finding an Anthropic batch job again (a worker that crashed between creating it and
recording its id), through the real SDK on the simulator's Message Batches API: decided
as soon as the list shows the job, or once the clock-skew window after the job was
opened has passed; never waiting for a job to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anthropic
import pytest
from aiohttp import web

from llmrouter.router.providers.batch_anthropic import AnthropicBatchClient
from llmrouter.router.providers.batch_base import WAIT, BatchLine, custom_id
from llmrouter.simulator import SimConfig, create_app, running
from llmrouter.simulator.batches import store_of

pytestmark = pytest.mark.asyncio

SKEW = timedelta(seconds=60)  # the client's clock-skew allowance


@pytest.fixture
async def sim() -> AsyncIterator[tuple[web.Application, str]]:
    app = create_app(SimConfig(latency_ms=0, seed=2))
    async with running(app=app) as url:
        yield app, url


def _lines(job: str, n: int) -> list[BatchLine]:
    return [
        BatchLine(
            custom_id(job, i),
            {
                "model": "claude-3-haiku-20240307",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"{job} question {i}"}],
            },
        )
        for i in range(n)
    ]


class _Clock:
    def __init__(self) -> None:
        self.at = datetime.now(tz=UTC)

    def __call__(self) -> datetime:
        return self.at


def _processing_s(app: web.Application, seconds: float) -> None:
    store = store_of(app)
    store.knobs = store.knobs.model_copy(update={"processing_s": seconds})


async def test_a_job_still_processing_is_found_at_once(sim: tuple[web.Application, str]) -> None:
    app, url = sim
    _processing_s(app, 3600)  # it ends in an hour: finding it must not wait for that
    clock = _Clock()
    async with anthropic.AsyncAnthropic(base_url=url, api_key="sk-t") as sdk:
        client = AnthropicBatchClient(sdk, model="m", now=clock)
        opened = clock.at
        batch_id = await client.create("job-p", _lines("job-p", 3))
        assert not (await client.retrieve(batch_id)).ended
        assert await client.find("job-p", created_after=opened, requests=3) == batch_id
        # one another job of the worker holds is not taken for it: nothing else is listed
        found = await client.find("job-p", created_after=opened, requests=3, taken={batch_id})
        assert found == WAIT  # within the clock-skew window of its opening
        clock.at = opened + SKEW + timedelta(seconds=1)
        found = await client.find("job-p", created_after=opened, requests=3, taken={batch_id})
        assert found is None


async def test_nothing_listed_waits_out_the_clock_skew_window_only(
    sim: tuple[web.Application, str],
) -> None:
    _, url = sim
    clock = _Clock()
    async with anthropic.AsyncAnthropic(base_url=url, api_key="sk-t") as sdk:
        client = AnthropicBatchClient(sdk, model="m", now=clock)
        opened = clock.at
        assert await client.find("job-n", created_after=opened, requests=2) == WAIT
        clock.at = opened + SKEW - timedelta(seconds=1)
        assert await client.find("job-n", created_after=opened, requests=2) == WAIT
        clock.at = opened + SKEW
        assert await client.find("job-n", created_after=opened, requests=2) is None
        # a job opened long ago (a worker down for a while) is decided at once
        long_ago = opened - timedelta(hours=1)
        assert await client.find("job-n", created_after=long_ago, requests=2) is None


async def test_an_ended_job_of_the_same_size_is_told_apart_by_its_custom_ids(
    sim: tuple[web.Application, str],
) -> None:
    app, url = sim
    _processing_s(app, 0)
    clock = _Clock()
    async with anthropic.AsyncAnthropic(base_url=url, api_key="sk-t") as sdk:
        client = AnthropicBatchClient(sdk, model="m", now=clock)
        opened = clock.at
        other = await client.create("job-o", _lines("job-o", 2))
        assert (await client.retrieve(other)).ended
        clock.at = opened + SKEW
        assert await client.find("job-m", created_after=opened, requests=2) is None
        mine = await client.create("job-m", _lines("job-m", 2))
        assert await client.find("job-m", created_after=opened, requests=2) == mine
        assert await client.find("job-o", created_after=opened, requests=2) == other

"""The FastStream declaration of the workers: the AsyncAPI document, and the same two
steps run in memory on FastStream's TestKafkaBroker (no broker, real SDKs to the simulator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import LLMRequest, LLMResult, requests_topic, results_topic
from llmrouter.schemas.topics import CLASSIFIED_PATTERN, REQUESTS_PATTERN
from llmrouter.workers.declaration import build_apps, render_asyncapi

REPO = Path(__file__).resolve().parents[2]


def test_checked_in_asyncapi_is_current() -> None:
    """Regenerate with `make schemas` when this fails."""
    on_disk = (REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert on_disk == render_asyncapi(), "docs/asyncapi.yaml is stale: run `make schemas`"


def test_asyncapi_names_every_topic() -> None:
    text = render_asyncapi()
    for topic in (
        REQUESTS_PATTERN,
        CLASSIFIED_PATTERN,
        "llm.results.{task}",
        "llm.costs",
        "llm.dlq",
    ):
        assert f"address: {topic}" in text


@pytest.fixture
async def router(sim_url: str) -> AsyncIterator[RoutingEngine]:
    config = load_config(EXAMPLE_CONFIG)
    r = RoutingEngine(config, pool=ProviderPool(config.models, simulator_url=sim_url))
    yield r
    await r.aclose()


async def test_the_pipeline_in_memory(router: RoutingEngine) -> None:
    broker = KafkaBroker()
    _, broker = build_apps(router, broker)
    got: asyncio.Future[LLMResult] = asyncio.get_running_loop().create_future()

    @broker.subscriber(results_topic("moderation"))
    async def collect(result: LLMResult) -> None:
        if not got.done():
            got.set_result(result)

    async with TestKafkaBroker(broker) as test_broker:
        request = LLMRequest(request_id="mem-1", task="moderation", input="thanks, very helpful")
        await test_broker.publish(request, requests_topic("moderation"), key=b"mem-1")
        result = await asyncio.wait_for(got, timeout=10)
    assert result.request_id == "mem-1"
    assert result.status.value == "ok"
    assert result.model in ("claude-3-haiku", "gpt-4-turbo")

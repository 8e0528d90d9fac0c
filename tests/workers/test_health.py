"""Metrics move, readiness follows Kafka, and a broker restart mid-stream loses nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llmrouter.localkafka import LocalKafka
from llmrouter.producers import RequestProducer
from llmrouter.schemas import LLMResult, ResultStatus, results_topic
from tests.kafka_helpers import free_port
from tests.workers.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text()


async def _until_status(url: str, status: int, timeout_s: float, containing: str = "") -> str:
    """Poll an HTTP endpoint until it answers `status` with `containing` in its body
    (polling a probe, as Kubernetes does; not a sleep standing in for synchronisation)."""
    async with asyncio.timeout(timeout_s):
        while True:
            code, body = await _get(url)
            if code == status and containing in body:
                return body
            await asyncio.sleep(0.2)


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def test_metrics_count_requests_and_readiness_is_reported(pipeline: MakePipeline) -> None:
    p = await pipeline()
    await p.start()
    health = p.health[0]
    code, _ = await _get(f"{health.url}/healthz")
    assert code == 200
    await _until_status(f"{health.url}/readyz", 200, timeout_s=30)
    qa = p.tasks["qa"]
    async with RequestProducer.from_env(p.bootstrap) as producer:
        for i in range(3):
            await producer.submit_and_wait(qa, f"question {i}?", timeout_s=60)
        await producer.submit_and_wait(qa, "always failing [[sim:fault=auth]]", timeout_s=60)
    _, text = await _get(f"{health.url}/metrics")
    assert _sample(text, "llmrouter_requests_total", task=qa, status="ok") == 3
    assert _sample(text, "llmrouter_requests_total", task=qa, status="failed") == 1
    assert (
        _sample(text, "llmrouter_dead_letters_total", stage="router", error_type="AllModelsFailed")
        >= 1
    )
    assert _sample(text, "llmrouter_cost_usd_total", task=qa) > 0
    assert _sample(text, "llmrouter_tokens_total", direction="output") > 0
    assert _sample(text, "llmrouter_request_latency_seconds_count", task=qa) == 4
    assert _sample(text, "llmrouter_transactions_total", result="committed") > 0
    assert "llmrouter_consumer_lag" in text


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[LocalKafka]:
    """A broker of this test's own, so stopping it disturbs nobody else."""
    kafka = LocalKafka(state_dir=tmp_path / "kafka", port=free_port(), controller_port=free_port())
    await asyncio.to_thread(kafka.start)
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.stop)


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_broker_restart_mid_stream(pipeline: MakePipeline, own_broker: LocalKafka) -> None:
    bootstrap = own_broker.status().bootstrap
    assert bootstrap
    p = await pipeline(bootstrap=bootstrap, partitions=2)
    await p.start()
    health = p.health[0]
    await _until_status(f"{health.url}/readyz", 200, timeout_s=30)
    summ = p.tasks["summ"]
    async with RequestProducer.from_env(bootstrap) as producer:
        before = [
            await producer.submit(summ, f"before {i} [[sim:latency_ms=300]]") for i in range(30)
        ]
    await asyncio.to_thread(own_broker.stop)
    body = await _until_status(
        f"{health.url}/readyz", 503, timeout_s=30, containing="cannot reach Kafka"
    )
    assert '"ready":false' in body
    await asyncio.to_thread(own_broker.start)
    await _until_status(f"{health.url}/readyz", 200, timeout_s=90)
    async with RequestProducer.from_env(bootstrap) as producer:
        after = [await producer.submit(summ, f"after {i}") for i in range(30)]
    wanted = {*before, *after}
    results = await read_topic(
        bootstrap,
        [results_topic(summ)],
        LLMResult,
        until=lambda rs: wanted <= {r.request_id for r in rs},
        timeout_s=120,
    )
    await p.stop_all()  # before the broker fixture stops its broker
    counts = Counter(r.request_id for r in results)
    assert set(counts) == wanted
    assert max(counts.values()) == 1
    assert all(r.status is ResultStatus.OK for r in results)

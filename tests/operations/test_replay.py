"""`llmrouter replay` on the real broker: exact ranges, live groups untouched, resumable
and never a request twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from llmrouter.core.errors import ConfigError
from llmrouter.operations.quality import TruthBook
from llmrouter.operations.replay import ReplayRange, replay
from llmrouter.operations.replay_compare import compare, live_results
from llmrouter.producers import RequestProducer
from llmrouter.router import RouterConfig, RoutingEngine
from llmrouter.router.config import TaskSpec
from llmrouter.router.config_loader import parse_config
from llmrouter.router.routed import Routed
from llmrouter.schemas import (
    LLMRequest,
    LLMResult,
    ResultStatus,
    encode,
    replay_results_topic,
    requests_topic,
    results_topic,
)
from llmrouter.workers.launch import CLASSIFIER_GROUP, ROUTER_GROUP
from tests.factories import static_route, with_route
from tests.operations.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]


def candidate_text(p: Pipeline) -> str:
    """The pipeline's config with the qa task sent to `big` only."""
    return with_route(p.config_text, p.tasks["qa"], static_route("big")["route"])


def candidate_config(p: Pipeline) -> RouterConfig:
    return parse_config(candidate_text(p))


def run_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def serve(p: Pipeline, task: str, count: int) -> dict[str, LLMResult]:
    """`count` requests through the real workers; their live results, once all are in."""
    await p.start()
    async with RequestProducer.from_env(p.bootstrap) as producer:
        sent = [
            await producer.submit(task, f"how do I log in {i}?", metadata={"label": "login"})
            if i % 2
            else await producer.submit(task, f"I was charged twice, refund order {i}")
            for i in range(count)
        ]
    results = await read_topic(
        p.bootstrap,
        [results_topic(task)],
        LLMResult,
        until=lambda rs: set(sent) <= {r.request_id for r in rs},
    )
    await p.stop_all()  # the live groups' offsets are final from here on
    return {r.request_id: r for r in results}


async def ids_by_offset(bootstrap: str, topic: str) -> dict[tuple[int, int], str]:
    """(partition, offset) → request_id of every request on `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, n) for n in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: dict[tuple[int, int], str] = {}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    found[(r.partition, r.offset)] = LLMRequest.model_validate_json(
                        r.value
                    ).request_id
        return found
    finally:
        await consumer.stop()


async def live_offsets(p: Pipeline) -> dict[str, dict[TopicPartition, int]]:
    admin = AIOKafkaAdminClient(**p.kafka.client_kwargs())
    await admin.start()
    try:
        groups = [p.group_prefix + CLASSIFIER_GROUP, p.group_prefix + ROUTER_GROUP]
        return {
            g: {
                tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(g)).items()
            }
            for g in groups
        }
    finally:
        await admin.close()


async def replayed(p: Pipeline, run: str, expected: set[str]) -> list[LLMResult]:
    return await read_topic(
        p.bootstrap,
        [replay_results_topic(run)],
        LLMResult,
        until=lambda rs: expected <= {r.request_id for r in rs},
    )


async def test_offset_range_replay_is_exact_and_leaves_the_live_groups(
    pipeline: MakePipeline,
) -> None:
    p = await pipeline()
    qa = p.tasks["qa"]
    live = await serve(p, qa, 15)
    before = await live_offsets(p)
    assert all(before.values()), "the live groups committed offsets"
    by_offset = await ids_by_offset(p.bootstrap, requests_topic(qa))
    expected = {rid for (_, offset), rid in by_offset.items() if 1 <= offset < 4}
    run = run_id()

    outcome = await replay(
        p.kafka,
        candidate_config(p),
        qa,
        run,
        ReplayRange(from_offset=1, to_offset=4),
        concurrency=2,
    )

    results = await replayed(p, run, expected)
    assert Counter(r.request_id for r in results) == Counter(expected), "exactly the range, once"
    assert {r.model for r in results} == {"big"}, "routed by the candidate config"
    assert all(r.status is ResultStatus.OK and r.latency_ms < 10_000 for r in results)
    assert outcome.stats.replayed == len(expected)
    assert await live_offsets(p) == before, "the live groups never move"

    again = await replay(
        p.kafka,
        candidate_config(p),
        qa,
        run,
        ReplayRange(from_offset=1, to_offset=4),
        concurrency=2,
    )
    assert again.stats.replayed == 0
    assert Counter(r.request_id for r in await replayed(p, run, expected)) == Counter(expected)
    assert {r.request_id for r in again.results} == expected, "a re-run still sees the run"

    comparison = compare(
        qa, run, again.results, await live_results(p.kafka, qa, expected, again.spans), TruthBook()
    )
    assert comparison.baseline is not None
    assert comparison.baseline.results == comparison.candidate.results == len(expected)
    assert comparison.baseline.total_cost_usd == sum(live[rid].cost_usd for rid in expected)
    assert comparison.candidate.models == [("big", len(expected))]
    assert comparison.output_agreement is not None


class StallingRouter(RoutingEngine):
    """Answers the first `answer` requests, then hangs: the replay is cut mid-chunk."""

    def __init__(self, config: RouterConfig, answer: int) -> None:
        super().__init__(config)
        self._left = answer
        self.stalled = asyncio.Event()

    async def route(self, request: LLMRequest, task: TaskSpec | None = None) -> Routed:
        if self._left <= 0:
            self.stalled.set()
            await asyncio.Event().wait()
        self._left -= 1
        return await super().route(request, task)


async def test_an_interrupted_replay_resumes_without_duplicates(pipeline: MakePipeline) -> None:
    p = await pipeline()
    qa = p.tasks["qa"]
    await serve(p, qa, 12)
    expected = set((await ids_by_offset(p.bootstrap, requests_topic(qa))).values())
    config, run, window = candidate_config(p), run_id(), ReplayRange(from_offset=0)
    stalling = StallingRouter(config, answer=5)  # two chunks of 2 commit, the third hangs
    try:
        first = asyncio.create_task(
            replay(p.kafka, config, qa, run, window, concurrency=2, router=stalling)
        )
        await asyncio.wait_for(stalling.stalled.wait(), 60)
        first.cancel()  # what Ctrl-C does to asyncio.run's main task
        with pytest.raises(asyncio.CancelledError):
            await first
    finally:
        await stalling.aclose()

    resumed = await replay(p.kafka, config, qa, run, window, concurrency=2)

    assert 0 < resumed.stats.replayed < len(expected), "resumed after the committed chunks"
    results = await replayed(p, run, expected)
    assert Counter(r.request_id for r in results) == Counter(expected), "each exactly once"
    assert len(resumed.results) == len(expected)


async def test_time_range_replay_picks_exactly_the_window(pipeline: MakePipeline) -> None:
    p = await pipeline()
    summ = p.tasks["summ"]
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    batches = {name: t0 + timedelta(seconds=10 * n) for n, name in enumerate("abc")}
    sent: dict[str, set[str]] = {name: set() for name in batches}
    producer = AIOKafkaProducer(bootstrap_servers=p.bootstrap)
    await producer.start()
    try:
        for name, stamp in batches.items():
            for i in range(4):
                request = LLMRequest(
                    request_id=f"{name}-{i}-{uuid.uuid4().hex[:6]}",
                    task=summ,
                    input=f"summarise email {name}{i}",
                    created_at=stamp,
                )
                await producer.send_and_wait(
                    requests_topic(summ),
                    encode(request),
                    key=request.request_id.encode(),
                    timestamp_ms=int(stamp.timestamp() * 1000),
                )
                sent[name].add(request.request_id)
    finally:
        await producer.stop()
    run = run_id()

    outcome = await replay(
        p.kafka, p.config, summ, run, ReplayRange(since=batches["b"], until=batches["c"])
    )

    assert {r.request_id for r in outcome.results} == sent["b"]
    results = await replayed(p, run, sent["b"])
    assert Counter(r.request_id for r in results) == Counter(sent["b"])
    comparison = compare(summ, run, outcome.results, {}, TruthBook())
    assert comparison.baseline is None, "no live results: nothing to compare with"
    assert comparison.candidate.results == 4


def test_a_range_is_times_or_offsets() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ConfigError):
        ReplayRange()
    with pytest.raises(ConfigError):
        ReplayRange(since=now, from_offset=3)
    with pytest.raises(ConfigError):
        ReplayRange(since=now, until=now)
    with pytest.raises(ConfigError):
        ReplayRange(from_offset=5, to_offset=2)


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_thousand_request_range(pipeline: MakePipeline) -> None:
    """The issue's bar: a 1,000-request range gives exactly 1,000 replay results, and the
    live consumer groups' committed offsets do not move."""
    p = await pipeline()
    qa = p.tasks["qa"]
    live = await serve(p, qa, 1000)
    assert len(live) == 1000
    before = await live_offsets(p)
    run = run_id()
    outcome = await replay(
        p.kafka, candidate_config(p), qa, run, ReplayRange(from_offset=0), concurrency=128
    )
    results = await replayed(p, run, set(live))
    assert Counter(r.request_id for r in results) == Counter(set(live))
    assert outcome.stats.replayed == 1000
    assert await live_offsets(p) == before

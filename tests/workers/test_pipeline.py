"""The pipeline on a real broker: every strategy end to end, dead letters, lifecycle."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.producers import RequestProducer
from llmrouter.schemas import (
    COSTS_TOPIC,
    DLQ_TOPIC,
    Complexity,
    CostEvent,
    DeadLetter,
    LLMResult,
    ResultStatus,
    requests_topic,
    results_topic,
)
from llmrouter.schemas.topics import router_topics
from tests.workers.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]


def _ids(items: list[LLMResult]) -> Counter[str]:
    return Counter(r.request_id for r in items)


async def _costs_for(p: Pipeline, request_ids: set[str], expected: int) -> list[CostEvent]:
    events = await read_topic(
        p.bootstrap,
        [COSTS_TOPIC],
        CostEvent,
        until=lambda evs: sum(e.request_id in request_ids for e in evs) >= expected,
    )
    return [e for e in events if e.request_id in request_ids]


async def test_every_strategy_end_to_end(pipeline: MakePipeline) -> None:
    p = await pipeline()
    await p.start()
    qa, mod, summ = p.tasks["qa"], p.tasks["mod"], p.tasks["summ"]
    sent: dict[str, str] = {}
    async with RequestProducer.from_env(p.bootstrap) as producer:
        for i in range(6):
            sent[await producer.submit(qa, f"how do I log in {i}?")] = "simple"
            sent[
                await producer.submit(qa, f"I was charged twice, I want a refund for order {i}")
            ] = "complex"
            sent[await producer.submit(mod, f"nice post {i}")] = "confident"
            sent[await producer.submit(mod, f"unsure content {i}")] = "unsure"
            sent[await producer.submit(summ, f"Please summarise email {i}", metadata={"n": i})] = (
                "static"
            )
    results = await read_topic(
        p.bootstrap,
        [results_topic(t) for t in (qa, mod, summ)],
        LLMResult,
        until=lambda rs: set(sent) <= {r.request_id for r in rs},
    )
    assert _ids(results) == Counter(list(sent)), "every request exactly one result"
    by_id = {r.request_id: r for r in results}
    for rid, kind in sent.items():
        r = by_id[rid]
        assert r.status is ResultStatus.OK, r.error
        if kind == "simple":
            assert (r.complexity, r.model) == (Complexity.SIMPLE, "cheap")
        elif kind == "complex":
            assert (r.complexity, r.model) == (Complexity.COMPLEX, "big")
        elif kind == "confident":
            assert (r.model, r.escalated) == ("cheap", False)
        elif kind == "unsure":
            assert (r.model, r.escalated) == ("big", True)
        else:
            assert r.model == "cheap"
            assert r.metadata["n"] in range(6)
    attempts = sum(len(r.attempts) for r in results)
    costs = await _costs_for(p, set(sent), attempts)
    assert len(costs) == attempts, "one cost event per attempt, none twice"
    assert {(e.request_id, e.attempt) for e in costs} == {
        (r.request_id, i) for r in results for i in range(len(r.attempts))
    }
    for r in results:
        mine = sum((e.cost_usd for e in costs if e.request_id == r.request_id), Decimal(0))
        assert mine == r.cost_usd


async def test_bad_input_goes_to_the_dead_letter_topic(
    pipeline: MakePipeline, kafka_bootstrap: str
) -> None:
    p = await pipeline()
    unknown_task = f"unknown-{p.suffix}"
    await ensure_topics(kafka_bootstrap, [requests_topic(unknown_task)], partitions=1)
    await p.start()
    qa = p.tasks["qa"]
    bad = {
        b"{not json": "InvalidMessage",
        orjson.dumps({"request_id": "bad-schema", "task": qa}): "InvalidMessage",  # no input
        orjson.dumps(
            {"request_id": "bad-task", "task": p.tasks["mod"], "input": "x"}
        ): "InvalidMessage",
        orjson.dumps(
            {"request_id": "too-long", "task": qa, "input": "x" * 3000}
        ): "MessageTooLarge",
        b"\xff\xfe\x00binary": "InvalidMessage",
    }
    good: list[str] = []
    async with RequestProducer.from_env(p.bootstrap) as producer:
        raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await raw.start()
        try:
            for i, payload in enumerate(bad):
                good.append(await producer.submit(qa, f"good question {i}"))
                await raw.send_and_wait(requests_topic(qa), payload, key=f"bad-{i}".encode())
            await raw.send_and_wait(
                requests_topic(unknown_task),
                orjson.dumps({"request_id": "no-route", "task": unknown_task, "input": "x"}),
            )
            doomed = await producer.submit(qa, "every model fails [[sim:fault=500]]")
            good.append(await producer.submit(qa, "last good one"))
        finally:
            await raw.stop()
    # Dead-lettered requests whose request_id can be read are answered too, with the reason.
    answered_bad = {"bad-schema": "InvalidMessage", "bad-task": "InvalidMessage"}
    answered_bad["too-long"] = "MessageTooLarge"
    results = await read_topic(
        p.bootstrap,
        [results_topic(qa)],
        LLMResult,
        until=lambda rs: {*good, doomed, *answered_bad} <= {r.request_id for r in rs},
    )
    assert _ids(results) == Counter([*good, doomed, *answered_bad])
    by_id = {r.request_id: r for r in results}
    assert all(by_id[g].status is ResultStatus.OK for g in good)
    assert by_id[doomed].status is ResultStatus.FAILED
    assert by_id[doomed].error
    for rid, error_type in answered_bad.items():
        assert by_id[rid].status is ResultStatus.FAILED
        assert (by_id[rid].error or "").startswith(f"{error_type}: "), by_id[rid].error
        assert by_id[rid].attempts == []

    letters = await read_topic(
        p.bootstrap,
        [DLQ_TOPIC],
        DeadLetter,
        until=lambda ls: (
            len(
                [
                    x
                    for x in ls
                    if x.source_topic
                    in (requests_topic(qa), requests_topic(unknown_task), f"llm.classified.{qa}")
                ]
            )
            >= len(bad) + 2
        ),
    )
    mine = [x for x in letters if qa in x.source_topic or unknown_task in x.source_topic]
    assert len(mine) == len(bad) + 2
    classify_letters = {x.original_bytes(): x for x in mine if x.stage == "classifier"}
    for payload, error_type in bad.items():
        letter = classify_letters[payload]
        assert letter.error_type == error_type
        assert letter.source_topic == requests_topic(qa)
        assert letter.error
    assert {x.request_id for x in mine} >= {
        "bad-schema",
        "bad-task",
        "too-long",
        "no-route",
        doomed,
    }
    unknown = next(x for x in mine if x.request_id == "no-route")
    assert unknown.error_type == "UnknownTask"
    assert {(x.worker, x.group_id, x.instance_id) for x in mine} <= {
        (kind, f"{p.group_prefix}llmrouter-{kind}", f"{p.group_prefix}i")
        for kind in ("classifier", "router")
    }
    failed = next(x for x in mine if x.request_id == doomed)
    assert (failed.stage, failed.error_type) == ("router", "AllModelsFailed")
    assert failed.source_topic == f"llm.classified.{qa}"


async def test_a_task_topic_created_later_is_picked_up(
    pipeline: MakePipeline, kafka_bootstrap: str
) -> None:
    p = await pipeline(create_topics=False)
    summ = p.tasks["summ"]
    topics = router_topics([summ], partitions=1)
    late = topics.pop(requests_topic(summ))
    await ensure_topics(kafka_bootstrap, topics)
    await p.start(create_topics=False)
    await ensure_topics(kafka_bootstrap, {requests_topic(summ): late})
    async with RequestProducer.from_env(p.bootstrap) as producer:
        result = await producer.submit_and_wait(summ, "a brand new task topic", timeout_s=60)
    assert result.status is ResultStatus.OK


async def _sim_requests(sim_url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/stats") as resp:
        return int((await resp.json())["requests"])


async def test_graceful_shutdown_loses_nothing(pipeline: MakePipeline, sim_url: str) -> None:
    p = await pipeline()
    stop = await p.start()
    summ = p.tasks["summ"]
    calls_before = await _sim_requests(sim_url)
    async with RequestProducer.from_env(p.bootstrap) as producer:
        ids = [await producer.submit(summ, f"slow {i} [[sim:latency_ms=400]]") for i in range(40)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:  # until some calls are in flight: there is work to drain
            if await _sim_requests(sim_url) > calls_before:
                break
            assert loop.time() < deadline, "no call reached the provider"
            await asyncio.sleep(0.05)
        stop.set()  # SIGTERM's path: stop fetching, drain, commit
        await p.stop_all()
        first = await read_topic(
            p.bootstrap, [results_topic(summ)], LLMResult, until=lambda rs: True, timeout_s=10
        )
        assert first, "the drain committed the in-flight work"
        await p.start()
        results = await read_topic(
            p.bootstrap,
            [results_topic(summ)],
            LLMResult,
            until=lambda rs: set(ids) <= {r.request_id for r in rs},
        )
    assert _ids(results) == Counter(ids)


async def test_submit_and_wait_returns_the_result(pipeline: MakePipeline) -> None:
    p = await pipeline()
    await p.start()
    async with RequestProducer.from_env(p.bootstrap) as producer:
        results = await asyncio.gather(
            *(
                producer.submit_and_wait(p.tasks["qa"], f"question {i}?", timeout_s=60)
                for i in range(10)
            )
        )
    assert all(r.status is ResultStatus.OK for r in results)
    assert len({r.request_id for r in results}) == 10

"""Deployments sharing one broker: each reads only its own tasks, every readable request is
answered (dead-lettered ones with the reason), a retained backlog expires unanswered by any
provider, and SIGHUP reloads the config."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from llmrouter.core.errors import ConfigError
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.producers import RequestProducer
from llmrouter.router import RouterConfig
from llmrouter.router.config_loader import EXAMPLE_CONFIG, parse_config
from llmrouter.schemas import (
    DLQ_TOPIC,
    DeadLetter,
    LLMResult,
    Priority,
    ResultStatus,
    classified_topic,
    decode,
    requests_topic,
    results_topic,
    utc_now,
)
from llmrouter.schemas.topics import router_topics
from llmrouter.workers.launch import WorkerSettings, run_workers
from llmrouter.workers.metrics import METRICS
from tests.factories import static_route, with_route
from tests.workers.conftest import Pipeline, read_topic

MakePipeline = Callable[..., Awaitable[Pipeline]]
EXAMPLE_TEXT = Path(EXAMPLE_CONFIG).read_text(encoding="utf-8")


def example_config(suffix: str) -> RouterConfig:
    """config/example.yaml with its task names made unique to the test."""
    data = yaml.safe_load(EXAMPLE_TEXT)
    data["tasks"] = {f"{name}-{suffix}": task for name, task in data["tasks"].items()}
    return RouterConfig.model_validate(data)


async def _dlq_ends(bootstrap: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        await ensure_topics(bootstrap, {DLQ_TOPIC: 3})
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(DLQ_TOPIC, p) for p in consumer.partitions_for_topic(DLQ_TOPIC)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        return ends
    finally:
        await consumer.stop()


async def _letters_since(bootstrap: str, start: dict[TopicPartition, int]) -> list[DeadLetter]:
    """Every dead letter written after `start` (end offsets taken earlier), up to now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(list(start))
        ends = await consumer.end_offsets(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        letters: list[DeadLetter] = []
        async with asyncio.timeout(30):
            while [tp for tp in start if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    letters += [decode(r.value, DeadLetter) for r in records]
        return letters
    finally:
        await consumer.stop()


async def _sim_calls(sim_url: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim_url}/_sim/stats") as resp,
    ):
        data: dict[str, Any] = await resp.json()
        return int(data["requests"])


def _expired_count(task: str) -> float:
    """Requests found expired when read, at whichever stage reads the task's requests."""
    return sum(
        METRICS.registry.get_sample_value("llmrouter_expired_total", {"task": task, "stage": stage})
        or 0.0
        for stage in ("classifier", "router")
    )


async def test_two_deployments_on_one_broker_keep_to_their_own_tasks(
    pipeline: MakePipeline, kafka_bootstrap: str
) -> None:
    own = await pipeline()  # a deployment with a config of its own
    config = example_config(own.suffix)
    example = Pipeline(
        bootstrap=own.bootstrap,
        config=config,
        config_text="",
        tasks={name: name for name in config.tasks},
        group_prefix=f"t{own.suffix}x-",
        suffix=own.suffix,
        kafka=own.kafka,
    )
    dlq_start = await _dlq_ends(kafka_bootstrap)
    try:
        await own.start(tasks_pattern=None)  # the default: the config's tasks, no others
        await example.start(tasks_pattern=None)
        moderation, support = f"moderation-{own.suffix}", f"customer-support-qa-{own.suffix}"
        async with RequestProducer.from_env(kafka_bootstrap) as producer:
            results = await asyncio.gather(
                producer.submit_and_wait(own.tasks["summ"], "summarise this", timeout_s=60),
                producer.submit_and_wait(own.tasks["qa"], "how do I log in?", timeout_s=60),
                producer.submit_and_wait(moderation, "a friendly comment", timeout_s=60),
                producer.submit_and_wait(
                    support,
                    "How do I reset my password?",
                    context={"kb_context": "Use the Forgot password link."},
                    timeout_s=60,
                ),
            )
        assert [r.status for r in results] == [ResultStatus.OK] * 4, [r.error for r in results]
        for deployment in (own, example):
            read = {
                tp.topic for h in deployment.health for c in h.checks for tp in c.worker.assigned
            }
            served = {t for name in deployment.config.tasks for t in router_topics([name])}
            assert read, "the workers were assigned their topics"
            assert read <= served, f"read topics of tasks it does not serve: {read - served}"
        letters = await _letters_since(kafka_bootstrap, dlq_start)
        groups = {x.group_id for x in letters}
        assert not any(
            g and g.startswith((own.group_prefix, example.group_prefix)) for g in groups
        ), "neither deployment dead-lettered anything"
    finally:
        await example.stop_all()


async def test_a_template_error_and_an_unknown_task_answer_the_waiting_client_at_once(
    pipeline: MakePipeline, kafka_bootstrap: str
) -> None:
    p = await pipeline()
    broken, unknown = f"broken-{p.suffix}", f"unknown-{p.suffix}"
    data = yaml.safe_load(p.config_text)
    # Built in code, so the load-time template check (which would refuse it) is skipped.
    data["tasks"][broken] = {
        "prompt": {"template": 'Reply with {"label": "safe"} for {input}'},
        "route": {"strategy": "static", "model": "cheap"},
    }
    p.config = RouterConfig.model_validate(data)
    await ensure_topics(kafka_bootstrap, router_topics([broken, unknown], partitions=1))
    await p.start()  # reads every `*-<suffix>` task topic, the unknown task's too
    async with RequestProducer.from_env(kafka_bootstrap) as producer:
        for task in (broken, unknown):
            await producer.waiter(task)  # the result reader runs before the clock starts
        # Ready is not yet assigned: one answered request shows both workers hold partitions.
        warm = await producer.submit_and_wait(p.tasks["summ"], "warm up", timeout_s=60)
        assert warm.status is ResultStatus.OK
        for task, error_type in ((broken, "ConfigError"), (unknown, "UnknownTask")):
            # The first record of a partition waits for its assignment and stable offset;
            # what a client must never do is wait for its timeout once the worker runs.
            first = await producer.submit_and_wait(task, "first text", timeout_s=30)
            assert first.status is ResultStatus.FAILED
            started = time.monotonic()
            result = await producer.submit_and_wait(task, "some text", timeout_s=30)
            elapsed_s = time.monotonic() - started
            assert result.status is ResultStatus.FAILED
            assert (result.error or "").startswith(f"{error_type}: "), result.error
            assert result.attempts == []
            # A failed answer, not the client's timeout: normally well under a second; the
            # bound leaves a loaded machine five, and is still a sixth of the 30 s timeout.
            assert elapsed_s < 5.0, f"{task}: answered after {elapsed_s:.2f} s"
    letters = await read_topic(
        p.bootstrap,
        [DLQ_TOPIC],
        DeadLetter,
        until=lambda ls: sum(x.source_topic.endswith(p.suffix) for x in ls) >= 2,
    )
    mine = [x for x in letters if x.source_topic.endswith(p.suffix)]
    assert {(x.worker, x.error_type) for x in mine} == {
        ("router", "ConfigError"),
        ("classifier", "UnknownTask"),
    }
    for letter in mine:
        assert letter.group_id == f"{p.group_prefix}llmrouter-{letter.worker}"
        assert letter.instance_id == f"{p.group_prefix}i"


async def test_a_retained_backlog_expires_without_a_provider_call(
    pipeline: MakePipeline, kafka_bootstrap: str, sim_url: str
) -> None:
    p = await pipeline()
    summ, mod = p.tasks["summ"], p.tasks["mod"]
    now = utc_now()
    async with RequestProducer.from_env(kafka_bootstrap) as producer:
        old = [
            producer.build(summ, f"an hour old {i}").model_copy(
                update={"created_at": now - timedelta(hours=1)}
            )
            for i in range(5)
        ]
        old += [
            producer.build(mod, "two days old, batch", priority=Priority.BATCH).model_copy(
                update={"created_at": now - timedelta(days=2)}
            ),
            producer.build(summ, "past its deadline", deadline=now - timedelta(seconds=1)),
        ]
        for request in old:
            await producer.send(request)
        fresh = [
            await producer.submit(summ, "fresh"),
            await producer.submit(mod, "fresh, batch", priority=Priority.BATCH),
        ]
    expired_before = _expired_count(summ)
    calls_before = await _sim_calls(sim_url)
    await p.start()  # a new deployment: its groups read the topics from the beginning
    expected = {r.request_id for r in old} | set(fresh)
    results = await read_topic(
        p.bootstrap,
        [results_topic(summ), results_topic(mod)],
        LLMResult,
        until=lambda rs: expected <= {r.request_id for r in rs},
    )
    by_id = {r.request_id: r for r in results}
    assert len(results) == len(expected), "one result each"
    for request in old:
        result = by_id[request.request_id]
        assert result.status is ResultStatus.FAILED
        assert (result.error or "").startswith("expired: "), result.error
        assert result.attempts == []
        assert result.cost_usd == 0
    assert [by_id[rid].status for rid in fresh] == [ResultStatus.OK] * 2
    calls = await _sim_calls(sim_url) - calls_before
    assert calls == sum(len(by_id[rid].attempts) for rid in fresh), "calls only for fresh ones"
    assert _expired_count(summ) - expired_before == 6


async def test_sighup_reloads_the_config(pipeline: MakePipeline, tmp_path: Path) -> None:
    p = await pipeline()
    summ = p.tasks["summ"]
    path = tmp_path / "routing.yaml"
    path.write_text(p.config_text, encoding="utf-8")
    stop, ready = asyncio.Event(), asyncio.Event()
    run = asyncio.create_task(
        run_workers(
            ["classifier", "router"],
            parse_config(p.config_text),
            p.settings(metrics_port=-1),
            stop=stop,
            ready=ready,
            config_path=path,
        )
    )
    try:
        async with asyncio.timeout(60):
            await ready.wait()
        async with RequestProducer.from_env(p.bootstrap) as producer:
            first = await producer.submit_and_wait(summ, "before", timeout_s=60)
            assert first.model == "cheap"
            mid_only = static_route("mid")["route"]
            path.write_text(with_route(p.config_text, summ, mid_only), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGHUP)
            async with asyncio.timeout(30):  # the reload runs in the background
                while (await producer.submit_and_wait(summ, "after", timeout_s=30)).model != "mid":
                    pass
    finally:
        stop.set()
        await asyncio.wait_for(run, 60)


async def test_a_bad_file_on_reload_keeps_the_old_config(
    tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmrouter.router import RoutingEngine
    from llmrouter.workers.lifecycle import ConfigReloader

    text = EXAMPLE_TEXT
    path = tmp_path / "routing.yaml"
    path.write_text(text.replace("base: {kb_context}", "base: {kb_context", 1), encoding="utf-8")

    class User:
        def __init__(self, router: RoutingEngine) -> None:
            self.router = router

    router = RoutingEngine(parse_config(text))
    user = User(router)
    reloader = ConfigReloader(path, [user], router)
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    try:
        assert await reloader.reload() is False
        assert user.router is router
        path.write_text(text, encoding="utf-8")
        assert await reloader.reload() is True
        assert user.router is not router
        assert user.router is reloader.router
    finally:
        await reloader.router.aclose()
        await reloader.aclose()
        await router.aclose()


async def test_a_missing_api_key_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LLMROUTER_SIMULATOR_URL", raising=False)
    monkeypatch.delenv("LLMROUTER_TEST_MISSING_KEY", raising=False)
    config = parse_config(
        """
models:
  m: {provider: openai, model_id: x, input_usd_per_1k: 0, output_usd_per_1k: 0,
      api_key_env: LLMROUTER_TEST_MISSING_KEY}
tasks:
  t: {route: {strategy: static, model: m}}
"""
    )
    # No broker at this address: the check comes before any connection.
    settings = WorkerSettings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    with pytest.raises(ConfigError, match="LLMROUTER_TEST_MISSING_KEY") as caught:
        await run_workers(["router"], config, settings)
    assert "tasks.t.route.model" in str(caught.value)


def test_requests_topic_of_the_example_is_not_in_another_deployments_subscription() -> None:
    import re

    from llmrouter.workers.lifecycle import subscription_pattern

    ours = parse_config(EXAMPLE_TEXT)
    # customer-support-qa has a complexity route: its requests pass the classifier;
    # moderation's routes need no complexity: the router reads its requests itself
    classifier = re.compile(subscription_pattern("classifier", ours, None))
    router = re.compile(subscription_pattern("router", ours, None))
    assert classifier.match(requests_topic("customer-support-qa"))
    assert not router.match(requests_topic("customer-support-qa"))
    assert router.match(classified_topic("customer-support-qa"))
    assert router.match(requests_topic("moderation"))
    assert not classifier.match(requests_topic("moderation"))
    assert router.match(classified_topic("moderation"))  # what an older classifier forwards
    for pattern in (classifier, router):
        assert not pattern.match(requests_topic("moderation-team-b"))
        assert not pattern.match(requests_topic("other"))
    alternatives = re.compile(subscription_pattern("classifier", ours, "moderation|other"))
    assert alternatives.match(requests_topic("other"))
    assert not alternatives.match(requests_topic("moderation"))  # the whole pattern excluded
    every = re.compile(subscription_pattern("classifier", ours, "*"))
    assert every.match(requests_topic("other"))
    assert every.match(requests_topic("moderation-team-b"))  # not exactly a direct task
    assert not every.match(requests_topic("moderation"))


def test_with_the_classifier_stage_always_every_task_passes_it() -> None:
    import re

    from llmrouter.workers.lifecycle import subscription_pattern

    ours = parse_config(
        EXAMPLE_TEXT.replace("defaults:\n", "defaults:\n  classifier_stage: always\n", 1)
    )
    assert ours.defaults.classifier_stage == "always"
    classifier = re.compile(subscription_pattern("classifier", ours, None))
    router = re.compile(subscription_pattern("router", ours, None))
    assert classifier.match(requests_topic("moderation"))
    assert not router.match(requests_topic("moderation"))

"""The quality worker reloads its config on SIGHUP, as the router and classifier do: a
task's shadow rate of 0 mirrors nothing; after the file says 1.0 and a SIGHUP, the next
answers are mirrored to the shadow model. The replaced shadow clients close, the join and
the live scores stay."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import parse_config
from llmrouter.router.state.wiring import local_state
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, encode
from llmrouter.schemas.scores import SCORES_TOPIC, Score, shadow_topic
from llmrouter.schemas.topics import requests_topic, results_topic
from llmrouter.workers.launch import run_workers
from llmrouter.workers.lifecycle import ConfigReloader
from llmrouter.workers.quality.build import QUALITY_GROUP
from llmrouter.workers.quality.handler import QualityHandler
from llmrouter.workers.quality.reload import QualityReload
from tests.factories import catalog, routing_config
from tests.kafka_helpers import MakeProducer
from tests.workers.quality_helpers import TopicReader, committed_past, skip_history, watch_pipeline


def _spec(rate: float) -> dict[str, object]:
    return {
        "route": {"strategy": "static", "model": "alpha"},
        "shadow": {"rate": rate, "models": ["beta"], "daily_budget_usd": 5},
    }


def _record(topic: str, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, 0, 0, 0, b"k", value, None, 1, len(value), ())


def _answer(request_id: str, task: str) -> bytes:
    return encode(
        LLMResult(
            request_id=request_id, task=task, status=ResultStatus.OK, output="Yes.", model="alpha"
        )
    )


async def test_sighup_reloads_the_quality_worker(
    kafka_bootstrap: str,
    sim_url: str,
    make_producer: MakeProducer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    p = await watch_pipeline(kafka_bootstrap, _spec(0.0))
    task = p.tasks["watch"]
    path = tmp_path / "routing.yaml"
    path.write_text(p.config_text, encoding="utf-8")
    shadow = TopicReader(kafka_bootstrap, [shadow_topic(task)], LLMResult)
    producer = await make_producer()

    async def answered(rid: str) -> dict[TopicPartition, int]:
        """A request and its answer; where the answer is."""
        request = LLMRequest(request_id=rid, task=task, input=f"Is it on? ({rid})")
        await producer.send_and_wait(requests_topic(task), encode(request), key=rid.encode())
        meta = await producer.send_and_wait(
            results_topic(task), _answer(rid, task), key=rid.encode()
        )
        return {TopicPartition(meta.topic, meta.partition): meta.offset}

    group = p.group_prefix + QUALITY_GROUP
    await skip_history(kafka_bootstrap, group)

    stop, ready = asyncio.Event(), asyncio.Event()
    run = asyncio.create_task(
        run_workers(
            ["quality"],
            p.config,
            p.settings(metrics_port=-1),
            stop=stop,
            ready=ready,
            config_path=path,
        )
    )
    sent: list[str] = []
    try:
        async with asyncio.timeout(60):
            await ready.wait()
        before = f"before-{p.suffix}"
        last = await answered(before)
        await committed_past(kafka_bootstrap, group, last)  # read with rate 0
        path.write_text(p.config_text.replace("rate: 0.0", "rate: 1.0"), encoding="utf-8")
        assert "rate: 1.0" in path.read_text()
        os.kill(os.getpid(), signal.SIGHUP)
        await shadow.start()
        # the reload runs in the background: answers go on until one is mirrored
        async with asyncio.timeout(60):
            while not shadow.messages:
                rid = f"after-{len(sent)}-{p.suffix}"
                sent.append(rid)
                await answered(rid)
                with contextlib.suppress(TimeoutError):
                    await shadow.until(bool, timeout_s=1.0)
    finally:
        stop.set()
        await asyncio.wait_for(run, 60)
        await shadow.stop()
    mirrored = {r.request_id for r in shadow.messages}
    assert before not in mirrored
    assert mirrored <= set(sent)
    assert all(r.model == "beta" and r.source == "shadow" for r in shadow.messages)


def _config_text(window: int) -> str:
    return routing_config(
        models=catalog("cheap", "mid"),
        tasks={
            "labels": {
                "route": {"strategy": "adaptive", "models": ["cheap", "mid"]},
                "quality": {"window": window, "baseline": 4, "min_scores": 1},
            }
        },
    )


async def test_a_reload_keeps_the_live_scores_and_closes_the_replaced_clients(
    tmp_path: Path, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    path = tmp_path / "routing.yaml"
    path.write_text(_config_text(window=2), encoding="utf-8")
    config = parse_config(path.read_text())
    router = RoutingEngine(config, state=local_state(config))
    handler = QualityHandler(config, router.state)
    reloader = ConfigReloader(path, [QualityReload(handler, router)], router)
    for i, value in enumerate([1.0, 1.0, 0.0]):
        score = Score(
            request_id=f"r{i}", task="labels", model="cheap", score=value, judge_model="x"
        )
        await handler(_record(SCORES_TOPIC, encode(score)))
    (figures,) = handler.live.figures()
    assert (figures.recent_count, figures.mean) == (2, 0.5)
    old_calls = handler.calls
    path.write_text(_config_text(window=3), encoding="utf-8")
    try:
        assert await reloader.reload() is True
        assert handler.config is reloader.router.config
        assert handler.calls is not old_calls
        (figures,) = handler.live.figures()  # the same scores, the new window
        assert figures.recent_count == 3
        assert figures.mean == pytest.approx(2 / 3)
        await handler.aclose()  # waits for the replaced clients to close
        assert not handler._retiring
    finally:
        await reloader.aclose()
        await reloader.router.aclose()

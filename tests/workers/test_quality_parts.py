"""The quality worker's parts without a broker: feedback into scores, scores into live
quality, drift and posteriors, the join window, the sampling."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord

from llmrouter.core.errors import InvalidMessage
from llmrouter.router.config_loader import parse_config
from llmrouter.router.config_quality import QualityWatchSpec
from llmrouter.router.state.wiring import local_state
from llmrouter.schemas import (
    DLQ_TOPIC,
    FEEDBACK_TOPIC,
    DeadLetter,
    Feedback,
    LLMRequest,
    LLMResult,
    ResultStatus,
    decode,
    encode,
)
from llmrouter.schemas.scores import SCORES_TOPIC, Score, score_key
from llmrouter.schemas.topics import results_topic
from llmrouter.workers.feedback import feedback_error_policy
from llmrouter.workers.outputs import WorkerIdentity
from llmrouter.workers.quality.handler import QualityHandler
from llmrouter.workers.quality.join import RequestWindow
from llmrouter.workers.quality.live import LiveQuality, wilson_interval
from llmrouter.workers.quality.policy import skip_on_error
from llmrouter.workers.quality.sampling import sampled
from tests.factories import catalog, routing_config

TASK = "labels"


def _handler() -> QualityHandler:
    text = routing_config(
        models=catalog("cheap", "mid"),
        tasks={
            TASK: {
                "route": {"strategy": "adaptive", "models": ["cheap", "mid"]},
                "quality": {"window": 4, "baseline": 4, "min_scores": 4, "drift_margin": 0.3},
            }
        },
    )
    config = parse_config(text)
    return QualityHandler(config, local_state(config))


def _record(topic: str, value: bytes, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 1, len(value), ())


def _answer(rid: str, output: str, model: str = "cheap") -> bytes:
    return encode(
        LLMResult(request_id=rid, task=TASK, status=ResultStatus.OK, output=output, model=model)
    )


async def test_a_label_for_a_known_answer_becomes_a_score() -> None:
    handler = _handler()
    await handler(_record(results_topic(TASK), _answer("r1", '{"label": "Unsafe"}')))
    await handler(_record(results_topic(TASK), _answer("r2", "safe")))
    feedback = [
        Feedback(request_id="r1", task=TASK, kind="label", label="unsafe"),
        Feedback(request_id="r2", task=TASK, kind="label", label="unsafe"),
        Feedback(request_id="r3", task=TASK, kind="label", label="unsafe"),  # answer unknown
        Feedback(request_id="r2", task=TASK, kind="thumbs", thumbs="up"),
        Feedback(request_id="r9", task=TASK, kind="score", score=0.25, model="mid"),
    ]
    outputs = [o for f in feedback for o in await handler(_record(FEEDBACK_TOPIC, encode(f)))]
    scores = [decode(o.value, Score) for o in outputs]
    assert all(o.topic == SCORES_TOPIC for o in outputs)
    assert [(s.request_id, s.model, s.score, s.judge_model) for s in scores] == [
        ("r1", "cheap", 1.0, "label"),
        ("r2", "cheap", 0.0, "label"),
        ("r2", "cheap", 1.0, "feedback"),
        ("r9", "mid", 0.25, "feedback"),
    ]
    assert outputs[0].key == score_key(TASK, "cheap")


async def test_bad_feedback_is_dead_lettered_and_unknown_tasks_publish_nothing() -> None:
    handler = _handler()
    bad = _record(FEEDBACK_TOPIC, b"{not json", offset=7)
    with pytest.raises(InvalidMessage) as raised:
        await handler(bad)
    identity = WorkerIdentity("quality", "g-llmrouter-quality", "i-1")
    policy = skip_on_error("quality", feedback=feedback_error_policy(identity))
    (letter,) = policy(bad, raised.value)
    assert letter.topic == DLQ_TOPIC
    dead = decode(letter.value, DeadLetter)
    assert (dead.source_topic, dead.offset, dead.worker) == (FEEDBACK_TOPIC, 7, "quality")
    # a bad record of another topic is only skipped (the watch samples)
    assert policy(_record(results_topic(TASK), b"{not json"), raised.value) == []
    other = Feedback(request_id="r1", task="other", kind="score", score=1.0, model="cheap")
    assert await handler(_record(FEEDBACK_TOPIC, encode(other))) == []


async def test_scores_update_the_posteriors_and_the_drift() -> None:
    handler = _handler()
    values = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    for i, value in enumerate(values):
        score = Score(request_id=f"r{i}", task=TASK, model="cheap", score=value, judge_model="mid")
        assert await handler(_record(SCORES_TOPIC, encode(score), i)) == []
    evidence = (await handler.posteriors.read(TASK, ["cheap", "mid"]))["cheap"]
    assert evidence.scores == 8
    assert evidence.failures > evidence.successes  # the recent zeros weigh more (decay)
    (figures,) = handler.live.figures()
    assert (figures.mean, figures.baseline_mean, figures.drifting) == (0.0, 1.0, True)


def test_drift_needs_min_scores_and_the_margin() -> None:
    live = LiveQuality(
        {"t": QualityWatchSpec(window=4, baseline=8, min_scores=4, drift_margin=0.2)}
    )
    for value in [0.9] * 3 + [0.5] * 4:  # a baseline of 3: too few
        figures = live.add("t", "m", value)
    assert not figures.drifting
    figures = live.add("t", "m", 0.5)  # now 4 and 4
    assert figures.drifting
    assert figures.recent_count == 4
    assert figures.count == 8


def test_wilson_interval() -> None:
    low, high = wilson_interval(0.5, 100)
    assert low == pytest.approx(0.404, abs=0.001)
    assert high == pytest.approx(0.596, abs=0.001)
    assert wilson_interval(0.0, 0) == (0.0, 1.0)
    assert wilson_interval(1.0, 10)[1] == pytest.approx(1.0)


async def test_a_result_waits_for_its_request_and_the_window_is_bounded() -> None:
    window = RequestWindow(capacity=2)
    waiting = asyncio.create_task(window.wait_for("late", timeout_s=30))
    await asyncio.sleep(0)  # the waiter registers first
    window.put(LLMRequest(request_id="late", task=TASK, input="x"))
    found = await waiting
    assert found is not None
    assert found.request_id == "late"
    for rid in ("a", "b", "c"):
        window.put(LLMRequest(request_id=rid, task=TASK, input=rid))
    assert await window.wait_for("a", timeout_s=0) is None  # the oldest went
    assert await window.wait_for("c", timeout_s=0) is not None
    assert await window.wait_for("never", timeout_s=0.01) is None


def test_sampling_is_a_deterministic_share() -> None:
    ids = [f"req-{i}" for i in range(4000)]
    picked = [rid for rid in ids if sampled(rid, "shadow", 0.25)]
    assert 850 <= len(picked) <= 1150
    assert picked == [rid for rid in ids if sampled(rid, "shadow", 0.25)]
    assert not sampled("x", "judge", 0.0)
    assert sampled("x", "judge", 1.0)

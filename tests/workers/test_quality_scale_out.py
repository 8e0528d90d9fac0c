"""Two quality worker replicas on the real broker share the join through redis-server: the
answers one replica reads are found by the feedback the other reads, and 1,000 feedback
records (duplicates and unknown request ids among them) become one score per statement
about a known answer, no more, none for a duplicate or an unknown id."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from llmrouter.router.config_loader import parse_config
from llmrouter.router.state.store import StateStore
from llmrouter.router.state.wiring import local_state
from llmrouter.schemas import FEEDBACK_TOPIC, Feedback, LLMResult, ResultStatus, decode, encode
from llmrouter.schemas.scores import LABEL_JUDGE, SCORES_TOPIC, Score
from llmrouter.schemas.topics import results_topic
from llmrouter.workers.quality.build import QUALITY_GROUP
from llmrouter.workers.quality.handler import QualityHandler
from llmrouter.workers.quality.join import MemoryJoin, SharedJoin
from tests.factories import catalog, routing_config
from tests.kafka_helpers import MakeProducer
from tests.workers.conftest import Pipeline, assign_from_start
from tests.workers.quality_helpers import committed_past, skip_history, watch_pipeline

PARTITIONS = 4
ANSWERED = 500  # request ids with a live answer
THUMBS = 200  # of them, also given a thumbs
DUPLICATES = 150  # statements sent a second time
UNKNOWN = 150  # request ids never answered, no model named


def _result(rid: str, task: str, label: str) -> bytes:
    return encode(
        LLMResult(
            request_id=rid,
            task=task,
            status=ResultStatus.OK,
            output=f'{{"label": "{label}"}}',
            model="alpha" if int(rid.rsplit("-", 1)[1]) % 2 else "beta",
        )
    )


def _feedback(task: str, suffix: str) -> tuple[list[Feedback], dict[tuple[str, str], float]]:
    """The 1,000 records, shuffled, and the score each statement about a known answer
    must get (by request id and kind)."""
    rng = random.Random(7)
    statements: list[Feedback] = []
    expected: dict[tuple[str, str], float] = {}
    for i in range(ANSWERED):
        rid = f"fb-{suffix}-{i}"
        label = "spam" if i % 3 else "ham"  # the answer said "spam" for odd i
        statements.append(Feedback(request_id=rid, task=task, kind="label", label=label))
        expected[(rid, "label")] = 1.0 if (label == "spam") == (i % 2 == 1) else 0.0
    for i in range(THUMBS):
        rid = f"fb-{suffix}-{i}"
        up = i % 4 != 0
        statements.append(
            Feedback(request_id=rid, task=task, kind="thumbs", thumbs="up" if up else "down")
        )
        expected[(rid, "thumbs")] = 1.0 if up else 0.0
    # the same statement sent again later (a client's retry: a new created_at)
    later = datetime.now(UTC) + timedelta(seconds=5)
    again = [f.model_copy(update={"created_at": later}) for f in rng.sample(statements, DUPLICATES)]
    unknown = [
        Feedback(request_id=f"fb-{suffix}-none-{i}", task=task, kind="thumbs", thumbs="up")
        for i in range(UNKNOWN)
    ]
    records = statements + again + unknown
    rng.shuffle(records)
    assert len(records) == 1000
    return records, expected


async def _scores_of(bootstrap: str, task: str) -> list[Score]:
    """Every committed score of `task`, up to the scores topic's end as it is now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        await assign_from_start(consumer, [SCORES_TOPIC])
        parts = list(consumer.assignment())
        ends = await consumer.end_offsets(parts)
        scores: list[Score] = []
        async with asyncio.timeout(60):
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    scores += [s for r in records if (s := decode(r.value, Score)).task == task]
        return scores
    finally:
        await consumer.stop()


def _kind(score: Score) -> str:
    return "label" if score.judge_model == LABEL_JUDGE else "thumbs"


async def _start_replicas(p: Pipeline) -> None:
    for name in ("a", "b"):
        await p.start(["quality"], instance_id=f"{p.group_prefix}{name}", max_in_flight=32)


def _record(topic: str, value: bytes, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 1, len(value), ())


def _owned(p: Pipeline, topic: str) -> list[int]:
    """Partitions of `topic` each running quality replica owns."""
    workers = [c.worker for h in p.health for c in h.checks if c.worker.options.name == "quality"]
    return [sum(1 for tp in w.assigned if tp.topic == topic) for w in workers]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_two_replicas_join_1000_feedback_records_exactly_once(
    kafka_bootstrap: str,
    sim_url: str,
    redis_url: str,
    make_producer: MakeProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    monkeypatch.setenv("LLMROUTER_REDIS_URL", redis_url)
    p = await watch_pipeline(
        kafka_bootstrap,
        {"route": {"strategy": "adaptive", "models": ["alpha", "beta"]}},
        partitions=PARTITIONS,
    )
    task = p.tasks["watch"]
    group = p.group_prefix + QUALITY_GROUP
    producer = await make_producer()
    try:
        await skip_history(kafka_bootstrap, group)
        await _start_replicas(p)
        # the live answers, as the router publishes them: keyed by request id
        last: dict[TopicPartition, int] = {}
        for i in range(ANSWERED):
            rid = f"fb-{p.suffix}-{i}"
            sent = await producer.send(
                results_topic(task),
                _result(rid, task, "spam" if i % 2 else "ham"),
                key=rid.encode(),
            )
            meta = await sent
            last[TopicPartition(meta.topic, meta.partition)] = meta.offset
        await committed_past(kafka_bootstrap, group, last)  # every answer is held
        records, expected = _feedback(task, p.suffix)
        last = {}
        for feedback in records:
            sent = await producer.send(
                FEEDBACK_TOPIC, encode(feedback), key=feedback.request_id.encode()
            )
            meta = await sent
            tp = TopicPartition(meta.topic, meta.partition)
            last[tp] = max(last.get(tp, -1), meta.offset)
        await committed_past(kafka_bootstrap, group, last)  # every record is processed
        owned_feedback, owned_results = _owned(p, FEEDBACK_TOPIC), _owned(p, results_topic(task))
    finally:
        await p.stop_all()
    scores = await _scores_of(kafka_bootstrap, task)
    # both replicas read answers and feedback: the join crossed replicas
    assert len(owned_results) == 2
    assert min(owned_results) > 0, owned_results
    assert len(owned_feedback) == 2
    assert min(owned_feedback) > 0, owned_feedback
    counts = Counter((s.request_id, _kind(s)) for s in scores)
    assert len(scores) == len(expected) == ANSWERED + THUMBS
    assert set(counts) == set(expected)
    assert set(counts.values()) == {1}, "one score per statement"
    for s in scores:
        key = (s.request_id, _kind(s))
        assert s.score == expected[key], key
        assert s.model == ("alpha" if int(s.request_id.rsplit("-", 1)[1]) % 2 else "beta")
    assert not any("-none-" in s.request_id for s in scores)


@pytest.mark.parametrize("shared", [False, True])
async def test_a_statement_scores_once_and_again_only_when_redelivered(
    shared: bool, redis_url: str
) -> None:
    task = "labels"
    config = parse_config(
        routing_config(
            models=catalog("cheap", "mid"),
            tasks={task: {"route": {"strategy": "adaptive", "models": ["cheap", "mid"]}}},
        )
    )
    store = (
        StateStore.connect(redis_url, prefix=f"t-{random.randrange(1 << 30)}") if shared else None
    )
    join = SharedJoin(store) if store is not None else MemoryJoin(100)
    handler = QualityHandler(config, local_state(config), join=join)
    try:
        answer = LLMResult(
            request_id="r1", task=task, status=ResultStatus.OK, output="spam", model="cheap"
        )
        await handler(_record(results_topic(task), encode(answer), 0))
        said = Feedback(request_id="r1", task=task, kind="label", label="spam")
        first = await handler(_record(FEEDBACK_TOPIC, encode(said), 10))
        assert [decode(o.value, Score).score for o in first] == [1.0]
        # its transaction never committed: the same record comes again and scores again
        assert len(await handler(_record(FEEDBACK_TOPIC, encode(said), 10))) == 1
        resent = said.model_copy(update={"created_at": datetime.now(UTC) + timedelta(hours=1)})
        assert await handler(_record(FEEDBACK_TOPIC, encode(resent), 11)) == []
        other = Feedback(request_id="r1", task=task, kind="label", label="ham")
        assert [
            decode(o.value, Score).score
            for o in await handler(_record(FEEDBACK_TOPIC, encode(other), 12))
        ] == [0.0]
        unknown = Feedback(request_id="r2", task=task, kind="thumbs", thumbs="up")
        assert await handler(_record(FEEDBACK_TOPIC, encode(unknown), 13)) == []
    finally:
        await handler.aclose()
        if store is not None:
            await store.aclose()

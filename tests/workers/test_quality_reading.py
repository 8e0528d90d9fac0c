"""What the quality worker reads of a request before it decodes one (workers/quality/
peek.py): the raw reader agrees with the schema, a request sampled for nothing is never
decoded in full, the sampled ones are kept as before, and a bad record is still
skipped; and it reads and commits in batches."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord

from llmrouter.core.errors import InvalidMessage
from llmrouter.kafkaio.transactions import Output
from llmrouter.router.config_loader import parse_config
from llmrouter.router.state.wiring import local_state
from llmrouter.runtime.options import WorkerOptions
from llmrouter.schemas import LLMRequest, decode, encode, utc_now
from llmrouter.schemas.topics import requests_topic, results_topic
from llmrouter.workers.quality import handler as handler_module
from llmrouter.workers.quality.build import (
    QUALITY_FETCH_MAX_WAIT_MS,
    QUALITY_FETCH_MIN_BYTES,
    QUALITY_FLUSH_INTERVAL_S,
    quality_options,
)
from llmrouter.workers.quality.handler import QualityHandler
from llmrouter.workers.quality.join import MemoryJoin
from llmrouter.workers.quality.peek import request_keys
from llmrouter.workers.quality.sampling import sampled
from tests.factories import catalog, routing_config

TASK = "watched"
RATE = 0.1


def _handler(rate: float = RATE) -> tuple[QualityHandler, MemoryJoin]:
    text = routing_config(
        models=catalog("cheap", "mid"),
        tasks={
            TASK: {
                "route": {"strategy": "static", "model": "cheap"},
                "shadow": {"rate": rate, "models": ["mid"], "daily_budget_usd": 10},
                "judge": {"model": "mid", "sample_rate": rate},
            }
        },
    )
    config = parse_config(text)
    join = MemoryJoin(10_000)
    return QualityHandler(config, local_state(config), join=join), join


def _record(value: bytes, offset: int = 0, topic: str = "") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic or requests_topic(TASK), 0, offset, 0, 0, b"k", value, None, 1, len(value), ()
    )


def _wanted(request_id: str) -> bool:
    """The sampling rule of the task, as the handler applied it to a decoded request."""
    return sampled(request_id, "shadow", RATE) or sampled(request_id, "judge", RATE)


def _requests(count: int) -> list[bytes]:
    """Requests as clients send them: an id, the input, context, metadata, a timestamp."""
    return [
        encode(
            LLMRequest(
                request_id=str(uuid.uuid4()),
                task=TASK,
                input=f"How do I reset my password? ({i})",
                context={"kb_context": "Passwords are reset from the Security page."},
                metadata={"ticket": i},
                created_at=utc_now(),
            )
        )
        for i in range(count)
    ]


#: requests the reader must read as the schema does, or leave to a full decode
_REQUESTS: list[bytes] = [
    *_requests(20),
    encode(LLMRequest(request_id="r-\u00e9\u4e2d\U0001f600", task=TASK, input="x")),
    b'{"request_id": "a\\u00e9\\n\\"q\\"", "task": "watched", "input": "x"}',
    b'{"request_id": "first", "task": "watched", "input": "x", "request_id": "last"}',
    b'{"task": "watched", "input": "x", "extra": [1, {"request_id": "inner"}], "request_id": "r"}',
    b'{"request_id": "r", "task": "watched", "input": "x", "metadata": {"v": NaN}}',
]


@pytest.mark.parametrize("raw", _REQUESTS)
def test_the_raw_reader_agrees_with_the_schema(raw: bytes) -> None:
    request = decode(raw, LLMRequest)
    keys = request_keys(raw)
    if keys is None:  # only what orjson cannot read (pydantic reads NaN): decoded in full
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
    else:
        assert keys == (request.request_id, request.task)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"request_id": 7, "task": "watched", "input": "x"}',
        b'{"request_id": "r", "task": null, "input": "x"}',
        b'{"request_id": "r", "input": "x"}',
        b'["request_id", "task"]',
        b'"request_id"',
        b"null",
        b"{not json",
        b"\xff\xfe",
        b"",
    ],
)
def test_the_raw_reader_reads_no_keys_the_schema_refuses(raw: bytes) -> None:
    assert request_keys(raw) is None
    with pytest.raises(InvalidMessage):
        decode(raw, LLMRequest)


async def test_an_unsampled_request_is_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    handler, join = _handler()
    decoded: list[bytes] = []

    def counting(raw: Any, model: Any) -> Any:
        if model is LLMRequest:
            decoded.append(raw)
        return decode(raw, model)

    monkeypatch.setattr(handler_module, "decode", counting)
    values = _requests(400)
    ids = [decode(v, LLMRequest).request_id for v in values]
    wanted = {rid for rid in ids if _wanted(rid)}
    assert 20 <= len(wanted) <= 140, "about a fifth sampled, for one purpose or the other"

    at_once: list[Sequence[Output] | None] = []
    for offset, value in enumerate(values):
        record = _record(value, offset)
        at_once.append(handler.at_once(record))
        assert await handler(record) == []

    # the runtime finishes the unsampled ones at once; the sampled ones go to the handler
    assert [rid for rid, now in zip(ids, at_once, strict=True) if now is None] == [
        rid for rid in ids if rid in wanted
    ]
    assert all(now == [] for now in at_once if now is not None)
    # decoded in full: the sampled ones only, each kept in the join as before
    assert len(decoded) == len(wanted)
    assert {decode(raw, LLMRequest).request_id for raw in decoded} == wanted
    for rid in ids:
        kept = await join.wait_for_request(rid, 0)
        assert (kept is not None) == (rid in wanted)


async def test_bad_requests_are_still_skipped() -> None:
    handler, join = _handler(rate=1.0)  # every request sampled: each one is decoded
    bad = [
        b"{not json",
        b'{"request_id": "bad-1", "task": "watched"}',  # no input
        b'{"request_id": 7, "task": "watched", "input": "x"}',
        b"",
    ]
    for offset, value in enumerate(bad):
        record = _record(value, offset)
        assert handler.at_once(record) is None, "left to the handler, which decodes it"
        assert await handler(record) == [], "skipped: the router dead-letters it"
    assert await join.wait_for_request("bad-1", 0) is None
    # one pydantic reads and orjson does not: decoded in full and kept as before
    nan = b'{"request_id": "nan-1", "task": "watched", "input": "x", "metadata": {"v": NaN}}'
    assert handler.at_once(_record(nan)) is None
    assert await handler(_record(nan)) == []
    kept = await join.wait_for_request("nan-1", 0)
    assert kept is not None
    assert kept.input == "x"


async def test_requests_of_other_tasks_and_other_topics_are_not_read_early() -> None:
    handler, _ = _handler(rate=1.0)
    other = encode(LLMRequest(request_id="o-1", task="unknown-task", input="x"))
    assert handler.at_once(_record(other, topic=requests_topic("unknown-task"))) == []
    assert await handler(_record(other, topic=requests_topic("unknown-task"))) == []
    result_topic = _record(b'{"request_id": "r"}', topic=results_topic(TASK))
    assert handler.at_once(result_topic) is None, "results are the handler's"


def test_the_quality_worker_reads_and_commits_in_batches() -> None:
    live = WorkerOptions(name="quality", group_id="g", pattern="p", transactional_id="g-1")
    options = quality_options(live)
    assert options.fetch_min_bytes == QUALITY_FETCH_MIN_BYTES > live.fetch_min_bytes
    assert options.fetch_max_wait_ms == QUALITY_FETCH_MAX_WAIT_MS
    assert options.flush_interval_s == QUALITY_FLUSH_INTERVAL_S > live.flush_interval_s
    patient = dataclasses.replace(live, fetch_min_bytes=1 << 20, flush_interval_s=2.0)
    kept = quality_options(patient)
    assert (kept.fetch_min_bytes, kept.flush_interval_s) == (1 << 20, 2.0), "never less"

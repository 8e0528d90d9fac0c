"""The error policy never raises, and everything it builds is bounded: a dead letter
carries a prefix of the value with the size and SHA-256 of all of it, a request id too
long for a result gets a dead letter that says so and no result, and when building the
outputs fails anyway the record gets a minimal dead letter."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from aiokafka import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmrouter.core.errors import InvalidMessage, MessageTooLarge
from llmrouter.schemas import DLQ_TOPIC, DeadLetter, LLMResult, decode
from llmrouter.schemas.dlq import PAYLOAD_PREFIX_BYTES, payload_prefix
from llmrouter.workers import outputs
from llmrouter.workers.outputs import (
    MAX_ECHOED_HEADERS_BYTES,
    MAX_REQUEST_ID_CHARS,
    ErrorPolicy,
    WorkerIdentity,
    bounded_headers,
    failed_result,
)
from tests.workers.bad_records import bad_records, request

TASK = "summ-x"
TOPIC = f"llm.requests.{TASK}"
POLICY = ErrorPolicy(WorkerIdentity("classifier", "g", "i"))
#: what any output of the policy stays under, whatever the record held
_BOUND_BYTES = 64 * 1024


def _record(
    value: bytes | None, key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, 1, 42, 0, 0, key, value, None, 0, 0, headers or [])


def _check(record: ConsumerRecord[bytes, bytes], exc: Exception) -> DeadLetter:
    out = POLICY(record, exc)
    letters = [decode(o.value, DeadLetter) for o in out if o.topic == DLQ_TOPIC]
    assert len(letters) == 1
    for o in out:
        size = len(o.value) + len(o.key or b"") + sum(len(k) + len(v) for k, v in o.headers)
        assert size < _BOUND_BYTES, o.topic
    letter = letters[0]
    value = record.value or b""
    assert (letter.source_topic, letter.partition, letter.offset) == (TOPIC, 1, 42)
    assert letter.payload_size_bytes == len(value)
    assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
    assert value.startswith(letter.original_bytes())
    return letter


def test_every_generated_bad_record_gets_a_bounded_dead_letter() -> None:
    records = bad_records(TASK, examples=3, per_example=40)
    for bad in records:
        record = _record(bad.value, bad.key, bad.headers)
        _check(record, InvalidMessage("bad"))
        results = [o for o in POLICY(record, InvalidMessage("bad")) if o.topic != DLQ_TOPIC]
        if bad.answered:
            assert [decode(o.value, LLMResult).request_id for o in results] == [bad.answered]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.none() | st.binary(max_size=500) | st.text(max_size=200).map(str.encode),
    key=st.none() | st.binary(max_size=50),
    headers=st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=50)), max_size=5),
)
def test_the_policy_never_raises(
    value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    _check(_record(value, key, headers), InvalidMessage("bad", request_id="r"))


@pytest.mark.parametrize("size", [PAYLOAD_PREFIX_BYTES + 1, 500_000])
@pytest.mark.parametrize("char", ["a", "é", "😀"])
def test_a_large_payload_is_cut_at_a_character(size: int, char: str) -> None:
    raw = (char * size).encode()
    prefix = payload_prefix(raw)
    assert prefix.payload_truncated
    assert prefix.payload_encoding == "utf-8"
    assert len(prefix.payload.encode()) <= PAYLOAD_PREFIX_BYTES
    assert raw.startswith(prefix.payload.encode())
    assert prefix.payload_size_bytes == len(raw)


def test_a_request_id_too_long_for_a_result_gets_a_dead_letter_that_says_so() -> None:
    long_id = "r" * (MAX_REQUEST_ID_CHARS + 1)
    record = _record(orjson.dumps(request(long_id, TASK)), key=long_id.encode())
    out = POLICY(record, InvalidMessage("not valid", request_id=long_id))
    assert [o.topic for o in out] == [DLQ_TOPIC]  # no result can carry the id
    letter = decode(out[0].value, DeadLetter)
    assert letter.request_id is None
    assert f"request_id of {len(long_id)} characters" in letter.error


def test_when_building_the_outputs_fails_a_minimal_dead_letter_is_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(outputs, "dead_letter", broken)
    value = b"x" * 100_000
    out = POLICY(_record(value, key=b"k"), MessageTooLarge("too big", request_id="r"))
    assert [o.topic for o in out] == [DLQ_TOPIC]
    letter = decode(out[0].value, DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == (TOPIC, 1, 42)
    assert letter.error_type == "MessageTooLarge"
    assert "RuntimeError" in letter.error
    assert letter.payload_truncated
    assert letter.payload_size_bytes == len(value)
    assert len(out[0].value) < 4096


def test_echoed_metadata_and_headers_are_bounded() -> None:
    huge = {"m": "x" * 100_000}
    assert failed_result("r", TASK, "why", metadata=huge).metadata == {}
    assert failed_result("r", TASK, "why", metadata={"n": 1}).metadata == {"n": 1}
    headers = [("a", b"1" * 10_000), ("b", b"2" * 10_000), ("traceparent", b"00-ab")]
    kept = bounded_headers(headers)
    assert [k for k, _ in kept] == ["a", "traceparent"]  # in order; what fits is kept
    assert sum(len(k) + len(v) for k, v in kept) <= MAX_ECHOED_HEADERS_BYTES

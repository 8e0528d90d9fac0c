"""The wire contract: round trips, rejections, money, topic names, checked-in JSON Schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrouter import schemas
from llmrouter.core.errors import InvalidMessage
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    ClassifiedRequest,
    Complexity,
    CostEvent,
    DeadLetter,
    LLMRequest,
    LLMResult,
    ResultStatus,
    UserTier,
    decode,
    encode,
    encode_payload,
    requests_topic,
    task_of_topic,
    token_cost_usd,
)
from llmrouter.schemas.jsonschema import render_json_schemas

REPO = Path(__file__).resolve().parents[2]

task_names = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,30}\Z")
text = st.text(max_size=200)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), text)
json_objects = st.dictionaries(st.text(min_size=1, max_size=10), json_scalars, max_size=4)
datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
costs = st.decimals(min_value=0, max_value=1000, places=10, allow_nan=False, allow_infinity=False)

requests = st.builds(
    LLMRequest,
    request_id=st.text(min_size=1, max_size=64),
    task=task_names,
    input=text,
    context=json_objects,
    user_tier=st.none() | st.sampled_from(UserTier),
    metadata=json_objects,
    created_at=st.none() | datetimes,
)
attempts = st.builds(
    Attempt,
    model=st.sampled_from(["claude-3-haiku", "gpt-4-turbo"]),
    outcome=st.sampled_from(AttemptOutcome),
    latency_ms=st.floats(min_value=0, max_value=1e6),
    input_tokens=st.integers(0, 10**7),
    output_tokens=st.integers(0, 10**7),
    cost_usd=costs,
)


@given(requests)
def test_request_round_trip(request: LLMRequest) -> None:
    assert decode(encode(request), LLMRequest) == request


@given(st.lists(attempts, max_size=5), task_names, datetimes)
def test_result_round_trip_keeps_exact_costs(
    items: list[Attempt], task: str, finished: datetime
) -> None:
    total = sum((a.cost_usd for a in items), Decimal(0))
    result = LLMResult(
        request_id="r",
        task=task,
        status=ResultStatus.OK,
        attempts=items,
        cost_usd=total,
        finished_at=finished,
    )
    back = decode(encode(result), LLMResult)
    assert back == result
    assert back.cost_usd == total


@given(costs, task_names)
def test_cost_event_round_trip(cost: Decimal, task: str) -> None:
    event = CostEvent(
        request_id="r",
        task=task,
        attempt=0,
        model="m",
        model_version="m-1",
        provider="openai",
        input_tokens=1,
        output_tokens=2,
        cost_usd=cost,
        cached=False,
        outcome=AttemptOutcome.OK,
    )
    assert decode(encode(event), CostEvent) == event


def test_classified_request_is_a_request() -> None:
    classified = ClassifiedRequest(
        request_id="r", task="moderation", input="x", complexity=Complexity.SIMPLE
    )
    as_request = decode(encode(classified), LLMRequest)
    assert as_request.request_id == "r"
    assert decode(encode(classified), ClassifiedRequest).complexity is Complexity.SIMPLE


def test_every_message_carries_schema_version_1() -> None:
    for model in schemas.MESSAGE_MODELS.values():
        assert model.model_fields["schema_version"].default == 1
    raw = orjson.loads(encode(LLMRequest(request_id="r", task="t", input="x")))
    assert raw["schema_version"] == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"not json", "LLMRequest"),
        (b"[1, 2]", "LLMRequest"),
        (b'{"request_id": "r", "task": "Bad Task", "input": "x"}', "task"),
        (b'{"request_id": "", "task": "t", "input": "x"}', "request_id"),
        (b'{"request_id": "r", "task": "t"}', "input"),
        (b'{"request_id": "r", "task": "t", "input": "x", "user_tier": "gold"}', "user_tier"),
        (b'{"request_id": "r", "task": "t", "input": "x", "schema_version": 2}', "schema_version"),
        (
            b'{"request_id": "r", "task": "t", "input": "x", "created_at": "yesterday"}',
            "created_at",
        ),
    ],
)
def test_bad_requests_are_rejected_with_the_field(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        decode(raw, LLMRequest)


def test_rejection_keeps_request_id_when_readable() -> None:
    with pytest.raises(InvalidMessage) as info:
        decode(b'{"request_id": "abc", "task": "t"}', LLMRequest)
    assert info.value.request_id == "abc"


def test_result_cost_must_be_the_sum_of_attempts() -> None:
    attempt = Attempt(model="m", outcome=AttemptOutcome.OK, latency_ms=1, cost_usd=Decimal("0.01"))
    with pytest.raises(ValueError, match="sum of attempts"):
        LLMResult(
            request_id="r",
            task="t",
            status=ResultStatus.OK,
            attempts=[attempt],
            cost_usd=Decimal("0.02"),
        )


def test_token_cost_is_exact_to_the_micro_dollar() -> None:
    # claude-3-haiku: $0.00025 in, $0.00125 out per 1K tokens
    cost = token_cost_usd(1234, 567, Decimal("0.00025"), Decimal("0.00125"))
    assert cost == Decimal("0.0003085") + Decimal("0.00070875")
    # a million small costs add up exactly, unlike floats
    total = sum(
        (token_cost_usd(7, 3, Decimal("0.0005"), Decimal("0.0015")) for _ in range(10**4)),
        Decimal(0),
    )
    assert total == Decimal("0.08")


def test_naive_timestamps_are_read_as_utc() -> None:
    req = decode(
        b'{"request_id": "r", "task": "t", "input": "x", "created_at": "2026-01-01T10:00:00"}',
        LLMRequest,
    )
    assert req.created_at == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_dead_letter_payload_keeps_bytes() -> None:
    for raw in (b'{"broken', b"\xff\xfe binary"):
        payload, encoding = encode_payload(raw)
        letter = DeadLetter(
            stage="classify",
            source_topic="llm.requests.t",
            partition=0,
            offset=1,
            error_type="InvalidMessage",
            error="bad",
            payload=payload,
            payload_encoding=encoding,
        )
        assert decode(encode(letter), DeadLetter).original_bytes() == raw


def test_topic_helpers_validate_task_names() -> None:
    assert requests_topic("customer-support-qa") == "llm.requests.customer-support-qa"
    assert task_of_topic("llm.classified.moderation") == "moderation"
    assert task_of_topic("llm.costs") is None
    for bad in ("", "Upper", "-lead", "a.b", "a b", "x" * 201):
        with pytest.raises(ValueError, match="invalid task name"):
            requests_topic(bad)


def test_checked_in_json_schemas_are_current() -> None:
    """Regenerate with `make schemas` when this fails."""
    expected = render_json_schemas()
    folder = REPO / "docs" / "schemas"
    on_disk = {p.name: p.read_bytes() for p in folder.glob("*.schema.json")}
    assert on_disk == expected, "docs/schemas/ is stale: run `make schemas`"


def test_exported_names_are_exactly_the_public_ones() -> None:
    public = {n for n in dir(schemas) if not n.startswith("_")}
    modules = {
        "attempts",
        "base",
        "batches",
        "codec",
        "costs",
        "dlq",
        "enums",
        "feedback",
        "money",
        "requests",
        "results",
        "scores",
        "topics",
        "jsonschema",
    }
    assert set(schemas.__all__) == public - modules - {"annotations"}

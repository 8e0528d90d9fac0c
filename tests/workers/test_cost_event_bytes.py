"""Cost events (workers/outputs.py): the bytes on `llm.costs` are those of a validated
event, numbered and stamped as on the result."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.schemas import Attempt, AttemptOutcome, CostEvent, LLMResult, ResultStatus, encode
from llmrouter.schemas.enums import UserTier
from llmrouter.workers.outputs import cost_events


def _result() -> LLMResult:
    attempts = [
        Attempt(
            model="cheap",
            provider="openai",
            model_version="gpt-x",
            purpose="classify",
            outcome=AttemptOutcome.OK,
            latency_ms=12.5,
            input_tokens=120,
            output_tokens=3,
            cost_usd=Decimal("0.0000615"),
            price_source="config",
        ),
        Attempt(
            model="big",
            provider="anthropic",
            model_version="claude-y",
            outcome=AttemptOutcome.SERVER_ERROR,
            latency_ms=40.0,
            error="HTTP 500",
        ),
        Attempt(
            model="big",
            provider="anthropic",
            model_version="claude-y",
            outcome=AttemptOutcome.OK,
            latency_ms=1500.25,
            input_tokens=2000,
            output_tokens=300,
            cache_read_tokens=1024,
            cache_write_tokens=10,
            reasoning_tokens=7,
            cost_usd=Decimal("0.012345"),
            price_source="genai-prices 0.0.1",
            cached=False,
        ),
    ]
    return LLMResult(
        request_id="r-1",
        task="support",
        status=ResultStatus.OK,
        output="hello",
        model="big",
        attempts=attempts,
        cost_usd=sum((a.cost_usd for a in attempts), Decimal(0)),
        user_tier=UserTier.PAID,
        learned_choice="big",
        predicted_score=0.75,
    )


def test_cost_events_are_the_bytes_of_validated_events() -> None:
    result = _result()
    events = cost_events(result)
    assert [e.attempt for e in events] == [0, 1, 2]
    for event in events:
        validated = CostEvent.model_validate(event.model_dump())
        assert encode(event) == encode(validated)
        assert event == validated
    assert events[2].cost_usd == Decimal("0.012345")
    assert events[0].ts == result.finished_at


def test_an_unbound_copy_keeps_the_other_bytes() -> None:
    event = cost_events(_result())[1]
    copy = event.model_copy(update={"unbound": True})
    assert encode(copy) == encode(event).replace(b'"unbound":false', b'"unbound":true')

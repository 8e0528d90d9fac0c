"""The token classes on Attempt and CostEvent are additive: old messages read with zeros,
new messages carry them, and a reader without the fields ignores them."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from llmrouter.schemas.attempts import Attempt
from llmrouter.schemas.base import WireModel
from llmrouter.schemas.codec import decode, encode
from llmrouter.schemas.costs import CostEvent
from llmrouter.schemas.enums import AttemptOutcome

_OLD_COST = {
    "schema_version": 1,
    "request_id": "r-1",
    "task": "summarize",
    "attempt": 0,
    "model": "gpt-4o",
    "model_version": "gpt-4o-2024-08-06",
    "provider": "openai",
    "input_tokens": 1200,
    "output_tokens": 40,
    "cost_usd": 0.0034,
    "cached": False,
    "outcome": "ok",
}


def test_an_old_cost_event_reads_with_zero_classes_and_no_source() -> None:
    event = decode(orjson.dumps(_OLD_COST), CostEvent)
    assert (event.cache_read_tokens, event.cache_write_tokens, event.reasoning_tokens) == (0, 0, 0)
    assert event.price_source is None
    assert event.cost_usd == Decimal("0.0034")


def test_a_new_cost_event_round_trips_its_classes() -> None:
    event = CostEvent.model_validate(
        {
            **_OLD_COST,
            "cache_read_tokens": 1024,
            "cache_write_tokens": 0,
            "reasoning_tokens": 12,
            "price_source": "genai-prices",
        }
    )
    back = decode(encode(event), CostEvent)
    assert (back.cache_read_tokens, back.reasoning_tokens, back.price_source) == (
        1024,
        12,
        "genai-prices",
    )


class _OldCostEvent(WireModel):
    """A reader built before the token classes existed."""

    request_id: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


def test_an_old_reader_ignores_the_new_fields() -> None:
    event = CostEvent.model_validate({**_OLD_COST, "cache_read_tokens": 1024})
    old = decode(encode(event), _OldCostEvent)
    assert (old.input_tokens, old.output_tokens) == (1200, 40)


def test_attempt_classes_default_to_zero_and_refuse_negatives() -> None:
    attempt = Attempt(model="m", outcome=AttemptOutcome.OK, latency_ms=1.0)
    assert (attempt.cache_read_tokens, attempt.cache_write_tokens, attempt.reasoning_tokens) == (
        0,
        0,
        0,
    )
    with pytest.raises(ValueError, match="reasoning_tokens"):
        Attempt(model="m", outcome=AttemptOutcome.OK, latency_ms=1.0, reasoning_tokens=-1)

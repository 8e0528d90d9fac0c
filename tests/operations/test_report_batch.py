"""The report's batch figures: the share of answer calls billed at the batch price, and
what they saved against the model's standard price for the same token classes."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.operations.report_batch import batch_fields, batch_shares
from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import BATCH_PRICE_MARK, UsageClasses, price_call
from llmrouter.schemas import AttemptOutcome, CostEvent

CONFIG = """
models:
  mini: {provider: openai, model_id: gpt-4o-mini}
tasks:
  qa:
    route: {strategy: static, model: mini}
"""


def _event(rid: str, *, batch: bool) -> CostEvent:
    config = parse_config(CONFIG)
    usage = UsageClasses(1000, 200)
    cost, source = price_call(config.models["mini"], usage, batch=batch)
    return CostEvent(
        request_id=rid,
        task="qa",
        attempt=0,
        model="mini",
        model_version="gpt-4o-mini",
        provider="openai",
        input_tokens=1000,
        output_tokens=200,
        price_source=source + (BATCH_PRICE_MARK if batch else ""),
        cost_usd=cost,
        cached=False,
        outcome=AttemptOutcome.OK,
    )


def test_batch_share_and_savings() -> None:
    config = parse_config(CONFIG)
    events = [_event("a", batch=True), _event("b", batch=True), _event("c", batch=False)]
    [row] = batch_shares(events, config)
    assert (row.calls, row.batch_calls) == (3, 2)
    standard, _ = price_call(config.models["mini"], UsageClasses(1000, 200))
    assert row.standard_usd == 2 * standard
    assert row.saved_usd == 2 * standard - row.batch_cost_usd
    assert row.saved_usd is not None
    assert row.saved_usd > Decimal(0)
    assert batch_fields(row)["batch_share"] == round(2 / 3, 4)


def test_no_batch_calls_no_rows() -> None:
    assert batch_shares([_event("c", batch=False)], parse_config(CONFIG)) == []

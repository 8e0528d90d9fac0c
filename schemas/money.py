"""Money on the wire: exact decimals, never accumulated floats.

Costs are `decimal.Decimal` in memory, quantised to `COST_QUANTUM` (a ten-billionth of a
dollar, far below any provider's price step). On the wire they are JSON numbers: a
quantised decimal of at most 13 significant digits survives the float round trip exactly,
and consumers that care can parse the number text as a decimal.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["COST_QUANTUM", "USD", "quantize_usd", "token_cost_usd"]

COST_QUANTUM = Decimal("0.0000000001")
_THOUSAND = Decimal(1000)


def quantize_usd(value: Decimal | int | str | float) -> Decimal:
    """Round to the wire precision; floats go through `str` so 0.1 stays 0.1."""
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    return dec.quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


def token_cost_usd(
    input_tokens: int,
    output_tokens: int,
    input_usd_per_1k: Decimal,
    output_usd_per_1k: Decimal,
) -> Decimal:
    """The SPEC's formula: tokens/1000 × price per 1K, for input and output."""
    raw = (
        Decimal(input_tokens) * input_usd_per_1k + Decimal(output_tokens) * output_usd_per_1k
    ) / _THOUSAND
    return quantize_usd(raw)


def _to_json_number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


#: A non-negative dollar amount, exact in memory, a JSON number on the wire.
USD = Annotated[
    Decimal,
    BeforeValidator(quantize_usd),
    PlainSerializer(_to_json_number, return_type=float, when_used="json"),
]

"""Money on the wire: exact decimals, never accumulated floats.

Costs are `decimal.Decimal` in memory, quantised to `COST_QUANTUM` (a ten-billionth of a
dollar, far below any provider's price step). On the wire they are JSON numbers: a
quantised decimal of at most 13 significant digits survives the float round trip exactly,
and consumers that care can parse the number text as a decimal.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["COST_QUANTUM", "USD", "format_usd", "quantize_usd", "token_cost_usd"]

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
    """Prices are quoted per 1,000 tokens: tokens/1000 × price, for input and output."""
    raw = (
        Decimal(input_tokens) * input_usd_per_1k + Decimal(output_tokens) * output_usd_per_1k
    ) / _THOUSAND
    return quantize_usd(raw)


def format_usd(
    value: Decimal | None,
    places: int = 6,
    *,
    significant: int | None = None,
    symbol: bool = True,
) -> str:
    """A dollar amount for people to read; "n/a" for None. Every table, plot and message
    shows money through this one function, so the same amount rounds the same everywhere.

    `places` decimals, half-even, with thousands separators: `format_usd(Decimal("1234.5"),
    2)` is "$1,234.50". With `significant`, that many significant digits and no trailing
    zeros instead (for amounts that span orders of magnitude): 0.0135 stays "$0.0135".
    `symbol=False` leaves out the "$" (for columns whose heading says it).
    """
    if value is None:
        return "n/a"
    if significant is not None:
        magnitude = math.floor(math.log10(abs(value))) if value else 0
        places = max(0, significant - 1 - magnitude)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = f"{rounded:,f}"
    if significant is not None and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("-"):
        return "-" + ("$" if symbol else "") + text[1:]
    return ("$" if symbol else "") + text


def _to_json_number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


#: A non-negative dollar amount, exact in memory, a JSON number on the wire.
USD = Annotated[
    Decimal,
    BeforeValidator(quantize_usd),
    PlainSerializer(_to_json_number, return_type=float, when_used="json"),
]

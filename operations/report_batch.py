"""The report's batch figures: per task and model, the share of answer calls billed at the
batch price (through a provider batch job: workers/batch/), what they cost, and what they
saved against the model's standard price for the same token classes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from rich.table import Table

from llmrouter.router.config import RouterConfig
from llmrouter.router.pricing import BATCH_PRICE_MARK, UsageClasses, price_call
from llmrouter.schemas import AttemptOutcome, CostEvent

__all__ = ["BATCH_PRICE_MARK", "BatchShare", "batch_fields", "batch_shares", "batch_table"]


@dataclass
class BatchShare:
    task: str
    model: str
    #: answered calls, and those of them billed at the batch price
    calls: int = 0
    batch_calls: int = 0
    batch_cost_usd: Decimal = Decimal(0)
    #: the batch calls at the model's standard prices; None when the model is not priced
    standard_usd: Decimal | None = Decimal(0)

    @property
    def share(self) -> float:
        return self.batch_calls / self.calls if self.calls else 0.0

    @property
    def saved_usd(self) -> Decimal | None:
        return None if self.standard_usd is None else self.standard_usd - self.batch_cost_usd


def batch_shares(costs: Iterable[CostEvent], config: RouterConfig) -> list[BatchShare]:
    """One row per task and model with at least one call billed at the batch price."""
    rows: dict[tuple[str, str], BatchShare] = {}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in costs:
        if event.outcome is not AttemptOutcome.OK or event.purpose != "answer":
            continue
        key = (event.task, event.model)
        counts[key] += 1
        if not (event.price_source or "").endswith(BATCH_PRICE_MARK):
            continue
        row = rows.setdefault(key, BatchShare(event.task, event.model))
        row.batch_calls += 1
        row.batch_cost_usd += event.cost_usd
        spec = config.models.get(event.model)
        if spec is None or row.standard_usd is None:
            row.standard_usd = None
            continue
        usage = UsageClasses(
            event.input_tokens,
            event.output_tokens,
            cache_read_tokens=event.cache_read_tokens,
            cache_write_tokens=event.cache_write_tokens,
            reasoning_tokens=event.reasoning_tokens,
        )
        row.standard_usd += price_call(spec, usage)[0]
    for key, row in rows.items():
        row.calls = counts[key]
    return [rows[key] for key in sorted(rows)]


def batch_table(shares: list[BatchShare], format_usd: Callable[[Decimal], str]) -> Table:
    table = Table(title="Batch jobs (calls billed at the batch price)", title_justify="left")
    for name in ("task", "model"):
        table.add_column(name, no_wrap=True)
    for name in ("calls", "batch", "share", "batch cost", "at standard", "saved"):
        table.add_column(name, justify="right")
    for row in shares:
        table.add_row(
            row.task,
            row.model,
            str(row.calls),
            str(row.batch_calls),
            f"{row.share:.0%}",
            format_usd(row.batch_cost_usd),
            format_usd(row.standard_usd) if row.standard_usd is not None else "n/a",
            format_usd(row.saved_usd) if row.saved_usd is not None else "n/a",
        )
    return table


def batch_fields(row: BatchShare) -> dict[str, object]:
    return {
        "task": row.task,
        "model": row.model,
        "calls": row.calls,
        "batch_calls": row.batch_calls,
        "batch_share": round(row.share, 4),
        "batch_cost_usd": str(row.batch_cost_usd),
        "standard_usd": str(row.standard_usd) if row.standard_usd is not None else None,
        "saved_usd": str(row.saved_usd) if row.saved_usd is not None else None,
    }

"""The demo's batch figures: how many answers came through provider batch jobs and what
that saved against the same models' realtime prices — `llmrouter report`'s batch table
(operations/report_batch.py), worked out from the cost events of the demo's results —
and the short batch timings the demo runs with so its jobs end within the run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from llmrouter.operations.report_batch import BatchShare, batch_shares
from llmrouter.router import RouterConfig
from llmrouter.schemas import AttemptOutcome, LLMResult
from llmrouter.schemas.money import format_usd
from llmrouter.workers.outputs import cost_events

__all__ = [
    "DEMO_BATCH_POLL_S",
    "DEMO_BATCH_PROCESSING_S",
    "DEMO_BATCH_WAIT_S",
    "BatchSavings",
    "batch_savings",
    "demo_batch_config",
]

#: the demo's jobs: submitted once their first request waited this long, polled this often
DEMO_BATCH_WAIT_S = 2.0
DEMO_BATCH_POLL_S = 0.5
#: how long the demo's simulator takes to process a job (a provider: up to 24 h)
DEMO_BATCH_PROCESSING_S = 1.0


def demo_batch_config(config: RouterConfig) -> RouterConfig:
    """`config` with every `batch_api` flushed and polled at the demo's pace."""
    models = {
        name: spec.model_copy(
            update={
                "batch_api": spec.batch_api.model_copy(
                    update={
                        "max_wait_s": min(spec.batch_api.max_wait_s, DEMO_BATCH_WAIT_S),
                        "poll_s": min(spec.batch_api.poll_s, DEMO_BATCH_POLL_S),
                    }
                )
            }
        )
        if spec.batch_api is not None
        else spec
        for name, spec in config.models.items()
    }
    return config.model_copy(update={"models": models})


@dataclass(frozen=True, slots=True)
class BatchSavings:
    #: answer calls, and those of them billed at the batch price
    calls: int
    batch_calls: int
    batch_cost_usd: Decimal
    #: the batch calls at their models' realtime prices; None when a model is not priced
    realtime_usd: Decimal | None
    rows: tuple[BatchShare, ...]

    @property
    def share(self) -> float:
        return self.batch_calls / self.calls if self.calls else 0.0

    @property
    def saved_usd(self) -> Decimal | None:
        return None if self.realtime_usd is None else self.realtime_usd - self.batch_cost_usd

    def line(self) -> str:
        saved = (
            f"{format_usd(self.saved_usd)} saved against {format_usd(self.realtime_usd)} "
            "at realtime prices"
            if self.saved_usd is not None and self.realtime_usd is not None
            else "its realtime price unknown"
        )
        return (
            f"batch jobs answered {self.batch_calls} of {self.calls} answer calls "
            f"({self.share:.1%}) for {format_usd(self.batch_cost_usd)}: {saved}"
        )


def batch_savings(results: Iterable[LLMResult], config: RouterConfig) -> BatchSavings:
    """The batch share and savings of `results`, by the report's figures. `calls` counts
    every answer call of the results (batched or not)."""
    events = [event for result in results for event in cost_events(result)]
    rows = batch_shares(events, config)
    calls = sum(1 for e in events if e.outcome is AttemptOutcome.OK and e.purpose == "answer")
    standard = [row.standard_usd for row in rows]
    return BatchSavings(
        calls=calls,
        batch_calls=sum(row.batch_calls for row in rows),
        batch_cost_usd=sum((row.batch_cost_usd for row in rows), Decimal(0)),
        realtime_usd=None
        if any(s is None for s in standard)
        else sum((s for s in standard if s is not None), Decimal(0)),
        rows=tuple(rows),
    )

"""Cost, latency and routing figures from results, with savings against a single-model
baseline: what routing saved, from the tokens the requests really used.

The baseline prices each answered request's own tokens (of the attempt whose answer was
used) at the task's `baseline_model` (else the most expensive catalog model) — what the
request would have cost had everything gone to that model with the same token counts,
class by class: the attempt's uncached input, cache reads, cache writes and output priced at
the baseline model's `router.pricing.price_table`.

Each row also sums what prompt caching saved on its requests' provider calls
(operations/token_classes.py `caching_saved_usd`, at each called model's prices).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from rich.table import Table

from llmrouter.core.stats import percentile
from llmrouter.operations.token_classes import caching_saved_usd
from llmrouter.router.config import RouterConfig
from llmrouter.router.pricing import UsageClasses, price_call
from llmrouter.schemas import Attempt, AttemptOutcome, LLMResult, ResultStatus
from llmrouter.schemas.money import format_usd

__all__ = ["Row", "Summary", "baseline_model", "render_summary", "summarise"]


@dataclass
class Row:
    task: str
    model: str
    requests: int = 0
    failed: int = 0
    cost_usd: Decimal = Decimal(0)
    baseline_usd: Decimal = Decimal(0)
    escalations: int = 0
    fallbacks: int = 0
    cache_hits: int = 0
    #: what prompt caching saved on the rows' provider calls (models in the config)
    caching_saved_usd: Decimal = Decimal(0)
    latencies_ms: list[float] = field(default_factory=list)

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies_ms, q) or 0.0  # a row always has latencies

    @property
    def cost_per_request_usd(self) -> Decimal:
        return self.cost_usd / self.requests if self.requests else Decimal(0)

    @property
    def cache_hit_rate(self) -> float:
        return self._rate(self.cache_hits)

    @property
    def escalation_rate(self) -> float:
        return self._rate(self.escalations)

    @property
    def fallback_rate(self) -> float:
        return self._rate(self.fallbacks)

    @property
    def failure_rate(self) -> float:
        return self._rate(self.failed)

    def _rate(self, count: int) -> float:
        return count / self.requests if self.requests else 0.0


@dataclass
class Summary:
    rows: list[Row]
    total_requests: int
    total_cost_usd: Decimal
    baseline_cost_usd: Decimal
    baseline_label: str
    caching_saved_usd: Decimal = Decimal(0)

    @property
    def savings_usd(self) -> Decimal:
        return self.baseline_cost_usd - self.total_cost_usd

    @property
    def savings_share(self) -> float:
        return float(self.savings_usd / self.baseline_cost_usd) if self.baseline_cost_usd else 0.0


def baseline_model(config: RouterConfig, task: str) -> str:
    """The task's `baseline_model`, else the catalog's most expensive model."""
    spec = config.tasks.get(task)
    if spec is not None and spec.baseline_model:
        return spec.baseline_model
    return max(config.models, key=lambda m: config.models[m].output_usd_per_1k)


def summarise(results: Iterable[LLMResult], config: RouterConfig) -> Summary:
    rows: dict[tuple[str, str], Row] = {}
    total = Decimal(0)
    baseline = Decimal(0)
    caching = Decimal(0)
    count = 0
    baselines: set[str] = set()
    for result in results:
        count += 1
        model = result.model or "(failed)"
        row = rows.get((result.task, model))
        if row is None:
            row = rows[(result.task, model)] = Row(result.task, model)
        row.requests += 1
        row.failed += result.status is ResultStatus.FAILED
        row.cost_usd += result.cost_usd
        row.escalations += result.escalated
        row.fallbacks += result.fallback_used
        row.cache_hits += result.cached
        row.latencies_ms.append(result.latency_ms)
        total += result.cost_usd
        saved = sum((_caching_saved(config, a) for a in result.attempts), Decimal(0))
        row.caching_saved_usd += saved
        caching += saved
        used = next((a for a in reversed(result.attempts) if a.outcome in _ANSWERED), None)
        if used is not None and result.task in config.tasks:  # no guessed baseline
            base_model = baseline_model(config, result.task)
            baselines.add(base_model)
            cost = _baseline_cost(config, base_model, used)
            row.baseline_usd += cost
            baseline += cost
    ordered = sorted(rows.values(), key=lambda r: (r.task, -r.requests, r.model))
    label = ", ".join(sorted(baselines)) or "-"
    return Summary(ordered, count, total, baseline, label, caching)


_ANSWERED = {AttemptOutcome.OK, AttemptOutcome.CACHE_HIT}


def _baseline_cost(config: RouterConfig, model: str, used: Attempt) -> Decimal:
    """The used attempt's token classes priced at the baseline model."""
    usage = UsageClasses(
        input_tokens=used.input_tokens,
        output_tokens=used.output_tokens,
        cache_read_tokens=used.cache_read_tokens,
        cache_write_tokens=used.cache_write_tokens,
        reasoning_tokens=used.reasoning_tokens,
    )
    return price_call(config.models[model], usage)[0]


def _caching_saved(config: RouterConfig, attempt: Attempt) -> Decimal:
    """Prompt caching's saving on one provider call (0 for a response-cache hit, or a model
    the config does not have)."""
    if attempt.cached or attempt.outcome is AttemptOutcome.CACHE_HIT:
        return Decimal(0)
    saved = caching_saved_usd(
        config,
        attempt.model,
        input_tokens=attempt.input_tokens,
        cache_read_tokens=attempt.cache_read_tokens,
        cache_write_tokens=attempt.cache_write_tokens,
    )
    return saved or Decimal(0)


def render_summary(summary: Summary, title: str = "Routing by task and model") -> Table:
    table = Table(title=title, show_footer=True, title_justify="left")
    n = summary.total_requests or 1
    table.add_column("task", footer="total", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("reqs", justify="right", footer=str(summary.total_requests))
    table.add_column("share", justify="right")
    table.add_column(
        "cost", justify="right", no_wrap=True, footer=format_usd(summary.total_cost_usd)
    )
    table.add_column(
        "baseline", justify="right", no_wrap=True, footer=format_usd(summary.baseline_cost_usd)
    )
    table.add_column(
        "cache saved", justify="right", no_wrap=True, footer=format_usd(summary.caching_saved_usd)
    )
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("esc", justify="right")
    table.add_column("fb", justify="right")
    table.add_column("fail", justify="right")
    table.caption = (
        f"baseline: the same token classes priced at {summary.baseline_label}; "
        "cache saved = what prompt caching saved (cached tokens at the plain input price "
        "minus their cache price); esc = escalated by the cascade, fb = answered by a fallback"
    )
    for row in summary.rows:
        table.add_row(
            row.task,
            row.model,
            str(row.requests),
            f"{row.requests / n:.0%}",
            format_usd(row.cost_usd),
            format_usd(row.baseline_usd),
            format_usd(row.caching_saved_usd),
            f"{row.percentile_ms(50):.0f}",
            f"{row.percentile_ms(95):.0f}",
            str(row.escalations),
            str(row.fallbacks),
            str(row.failed),
        )
    return table

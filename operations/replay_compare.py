"""Baseline (what the live pipeline answered) against candidate (a replay run's answers)
for the same requests: cost, latency, models, agreement and, where the truth is known,
quality.

Agreement is measured on what the answer decides, not on its wording: the label for a
label task, the task's `eval.label_field` (default `label`) when its answers are JSON,
and the normalised text only for free-text tasks. Two moderation answers with the same
label but another confidence or reason agree.

The baseline is read from `llm.results.<task>` (read_committed) from a little before the
replayed range's first request up to the end offsets of this moment: requests whose live
result is not there (yet) are left out of the comparison and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from aiokafka import TopicPartition
from rich.table import Table

from llmrouter.core.errors import InvalidMessage, KafkaUnavailable
from llmrouter.core.stats import percentile
from llmrouter.evaluation.metrics import extract_label
from llmrouter.kafkaio.reading import (
    Span,
    first_timestamp_ms,
    read_records,
    reader,
    time_spans,
    topic_partitions,
)
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.operations.quality import Quality, TruthBook, output_agreement
from llmrouter.schemas import LLMResult, ResultStatus, decode, results_topic
from llmrouter.schemas.money import format_usd

__all__ = [
    "Comparison",
    "Side",
    "compare",
    "field_agreement",
    "live_results",
    "render_comparison",
]

#: live results are looked for from this long before the range's first request, for
#: producers whose clocks run ahead of the workers'
_CLOCK_SKEW_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class Side:
    label: str
    results: int
    failed: int
    total_cost_usd: Decimal
    p50_ms: float | None
    p95_ms: float | None
    models: list[tuple[str, int]]
    quality: Quality | None

    @property
    def cost_per_request_usd(self) -> Decimal | None:
        return self.total_cost_usd / self.results if self.results else None


@dataclass(frozen=True)
class Comparison:
    task: str
    run_id: str
    baseline: Side | None
    candidate: Side
    #: candidate results with no live result to compare with
    without_baseline: int
    #: share of pairs (both answered) whose outputs match after normalisation
    output_agreement: float | None
    #: share of pairs that give the same label (or JSON field value), where both give one
    label_agreement: float | None
    agreement_pairs: int
    is_label_task: bool
    #: what `agreement` compares: "label", "JSON field `x`" or "normalised text"
    agreement_on: str = "normalised text"

    @property
    def agreement(self) -> float | None:
        """The headline agreement: on the label or field where there is one, else the text."""
        if self.agreement_on == "normalised text":
            return self.output_agreement
        return self.label_agreement


async def live_results(
    kafka: KafkaSettings,
    task: str,
    request_ids: set[str],
    request_spans: Mapping[TopicPartition, Span],
) -> dict[str, LLMResult]:
    """The live result of each of `request_ids`, looked for after the range's start."""
    if not request_ids:
        return {}
    found: dict[str, LLMResult] = {}
    async with reader(kafka) as consumer:
        first_ms = await first_timestamp_ms(consumer, request_spans)
        since_ms = first_ms - _CLOCK_SKEW_MS if first_ms is not None else None
        try:
            partitions = await topic_partitions(consumer, results_topic(task))
        except KafkaUnavailable:  # the live pipeline never served this task
            return found
        spans = await time_spans(consumer, partitions, since_ms, None)
        async for record in read_records(consumer, spans):
            try:
                result = decode(record.value, LLMResult)
            except InvalidMessage:
                continue
            if result.request_id in request_ids:
                found.setdefault(result.request_id, result)
    return found


def compare(
    task: str,
    run_id: str,
    candidate: Iterable[LLMResult],
    baseline: Mapping[str, LLMResult],
    truths: TruthBook,
    *,
    label_field: str = "label",
    json_output: bool = False,
) -> Comparison:
    """Both sides on the requests that have both results (all candidates if none has).
    `label_field` and `json_output` come from the task's config (eval.label_field,
    prompt.response_format)."""
    replayed = list(candidate)
    paired = [r for r in replayed if r.request_id in baseline]
    live = [baseline[r.request_id] for r in paired]
    label_task = truths.is_label_task(task, replayed)
    outputs = [(b.output, c.output) for b, c in zip(live, paired, strict=True)]
    same = [output_agreement(b, c) for b, c in outputs]
    by_field = label_task or json_output
    labels = [field_agreement(b, c, label_field) for b, c in outputs] if by_field else []
    if label_task:
        basis = "label" if label_field == "label" else f"label (JSON field `{label_field}`)"
    else:
        basis = f"JSON field `{label_field}`" if json_output else "normalised text"
    return Comparison(
        task=task,
        run_id=run_id,
        baseline=_side("live", live, truths) if live else None,
        candidate=_side(f"replay {run_id}", paired or replayed, truths),
        without_baseline=len(replayed) - len(paired),
        output_agreement=_share(same),
        label_agreement=_share(labels),
        agreement_pairs=sum(v is not None for v in same),
        is_label_task=label_task,
        agreement_on=basis,
    )


def field_agreement(a: str | None, b: str | None, label_field: str = "label") -> bool | None:
    """Same label (a JSON answer's `label_field`, else the whole answer, as evaluation reads
    labels); None when either answer is missing or gives none."""
    first = extract_label(a, label_field) if a is not None else None
    second = extract_label(b, label_field) if b is not None else None
    if first is None or second is None:
        return None
    return first == second


def _side(label: str, results: list[LLMResult], truths: TruthBook) -> Side:
    latencies = [r.latency_ms for r in results]
    return Side(
        label=label,
        results=len(results),
        failed=sum(r.status is ResultStatus.FAILED for r in results),
        total_cost_usd=sum((r.cost_usd for r in results), Decimal(0)),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        models=Counter(r.model or "(failed)" for r in results).most_common(),
        quality=truths.quality(results),
    )


def _share(values: list[bool | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def render_comparison(comparison: Comparison) -> Table:
    base, cand = comparison.baseline, comparison.candidate
    table = Table(
        title=f"{comparison.task}: live (baseline) vs replay {comparison.run_id} (candidate)",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("metric", no_wrap=True)
    table.add_column("live", justify="right")
    table.add_column(f"replay {comparison.run_id}", justify="right")
    table.add_column("change", justify="right")
    base_per_request = base.cost_per_request_usd if base else None
    rows: list[tuple[str, str, str, str]] = [
        ("requests", _n(base, "results"), str(cand.results), ""),
        ("failed", _n(base, "failed"), str(cand.failed), ""),
        (
            "total cost",
            format_usd(base.total_cost_usd if base else None),
            format_usd(cand.total_cost_usd),
            "",
        ),
        (
            "cost per request",
            format_usd(base_per_request),
            format_usd(cand.cost_per_request_usd),
            _change(base_per_request, cand.cost_per_request_usd),
        ),
        ("latency P50 ms", _ms(base.p50_ms if base else None), _ms(cand.p50_ms), ""),
        ("latency P95 ms", _ms(base.p95_ms if base else None), _ms(cand.p95_ms), ""),
        ("models", _models(base), _models(cand), ""),
        (f"agreement on {comparison.agreement_on}", "", _agreement(comparison), ""),
        ("quality", _quality(base), _quality(cand), _quality_change(base, cand)),
    ]
    for row in rows:
        table.add_row(*row)
    table.caption = _caption(comparison)
    return table


def _caption(comparison: Comparison) -> str:
    lines = [
        "latency: live = request created → result published (queueing included); "
        "replay = the candidate's own routing time",
    ]
    pairs = comparison.agreement_pairs
    if comparison.agreement_on != "normalised text" and comparison.output_agreement is not None:
        lines.append(
            f"agreement is on the {comparison.agreement_on}, of {pairs} pairs both answered; "
            f"the whole answers are identical (normalised) in {comparison.output_agreement:.0%} "
            "(confidence and reason may differ)"
        )
    if comparison.without_baseline:
        lines.append(
            f"{comparison.without_baseline} replayed request(s) have no live result yet: "
            "left out of the comparison"
        )
    if comparison.candidate.quality is None:
        lines.append(
            "quality: n/a — no request carries metadata.label or an eval-set metadata.example"
        )
    lines.append("replays write no cost events to llm.costs; their results carry their costs")
    return "\n".join(lines)


def _agreement(comparison: Comparison) -> str:
    value = comparison.agreement
    return f"{value:.0%} of {comparison.agreement_pairs}" if value is not None else "n/a"


def _n(side: Side | None, name: str) -> str:
    return str(getattr(side, name)) if side is not None else "n/a"


def _ms(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "n/a"


def _change(before: Decimal | None, after: Decimal | None) -> str:
    if before is None or after is None or before == 0:
        return ""
    return f"{float((after - before) / before):+.0%}"


def _models(side: Side | None) -> str:
    if side is None or not side.results:
        return "n/a"
    return ", ".join(f"{m} {n / side.results:.0%}" for m, n in side.models)


def _quality(side: Side | None) -> str:
    return side.quality.describe() if side is not None and side.quality is not None else "n/a"


def _quality_change(base: Side | None, cand: Side) -> str:
    if base is None or base.quality is None or cand.quality is None:
        return ""
    if base.quality.metric != cand.quality.metric:
        return ""
    return f"{(cand.quality.value - base.quality.value) * 100:+.1f} pts"

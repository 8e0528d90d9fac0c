"""`llmrouter report`: cost, latency and quality by task and model from the live topics,
with savings against a single-model baseline per task.

Reads `llm.costs` and every `llm.results.<task>` (read_committed) from the offsets at
`--since` (else the beginning) up to the offsets at `--until`, else the end offsets at
start, so a report always terminates. Two independent sources of the same money are
cross-checked: the cost events on `llm.costs` and the attempts on the results, per model.
They are published in one transaction, so any difference means lost or duplicated events
(or a result and its cost events on either side of the window's edge): a warning.

Daily figures are the observed ones scaled to 24 hours: volume and cost over the window
(`--since`..`--until`, else first..last result). The baseline is operations.summary's:
each answered request's own token classes priced at the task's `baseline_model`, else the
catalog's most expensive model. The token-class figures (prompt-cache hit rate, what prompt
caching saved, reasoning share) come from the cost events, per task and model called
(operations/token_classes.py).
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, TopicPartition

from llmrouter.core.errors import ConfigError, InvalidMessage, KafkaUnavailable
from llmrouter.kafkaio.reading import (
    Record,
    Span,
    partitions_of,
    read_records,
    reader,
    time_spans,
    to_ms,
    topic_partitions,
    topics_matching,
)
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.operations.learned_report import LearnedPick, learned_picks
from llmrouter.operations.quality import Quality, TruthBook
from llmrouter.operations.report_batch import BatchShare, batch_shares
from llmrouter.operations.summary import Row, Summary, baseline_model, summarise
from llmrouter.operations.token_classes import TokenClasses, token_classes
from llmrouter.router import RouterConfig
from llmrouter.schemas import (
    COSTS_TOPIC,
    RESULTS_PATTERN,
    CostEvent,
    LLMResult,
    decode,
    loads,
    results_topic,
    validate_task_name,
)

__all__ = [
    "BASELINE_SOURCES",
    "Collected",
    "ModelSpend",
    "Report",
    "ReportWindow",
    "TaskSavings",
    "build_report",
    "check_report_tasks",
    "collect",
    "task_baseline",
]

_DAY_S = 86_400.0
#: below this the observed span is too short to scale to a day
_MIN_SPAN_S = 1.0


@dataclass(frozen=True)
class ReportWindow:
    since: datetime | None = None
    until: datetime | None = None
    #: only these tasks (default: every task with a results topic)
    tasks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ConfigError("--until must be later than --since")
        for task in self.tasks:
            try:
                validate_task_name(task)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


@dataclass
class Collected:
    """What was read: results with their record timestamps, and cost events."""

    results: list[tuple[datetime, LLMResult]] = field(default_factory=list)
    costs: list[CostEvent] = field(default_factory=list)
    unreadable: int = 0
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ModelSpend:
    model: str
    events: int
    #: the sum of the model's cost events on llm.costs
    cost_events_usd: Decimal
    #: the sum of the model's attempts on the results
    results_usd: Decimal

    @property
    def difference_usd(self) -> Decimal:
        return self.cost_events_usd - self.results_usd


@dataclass(frozen=True)
class TaskSavings:
    """One task's daily volume and cost, now and on its baseline model."""

    task: str
    requests: int
    #: None when the task is not in the config: no baseline is guessed
    baseline_model: str | None
    cost_usd: Decimal
    baseline_usd: Decimal
    models: list[tuple[str, int]]
    #: quality of the routed answers where the truth is known (not a delta: see footnote)
    quality: Quality | None
    #: requests per day at the observed rate; None when the window is too short
    per_day: float | None
    #: where baseline_model came from (BASELINE_SOURCES)
    baseline_source: str = "baseline_model"
    #: what prompt caching saved on the task's provider calls (part of cost_usd's savings)
    caching_saved_usd: Decimal = Decimal(0)

    def daily(self, usd: Decimal) -> Decimal | None:
        if self.per_day is None or not self.requests:
            return None
        return usd * Decimal(repr(self.per_day)) / self.requests

    @property
    def cost_per_day(self) -> Decimal | None:
        return self.daily(self.cost_usd)

    @property
    def baseline_per_day(self) -> Decimal | None:
        return self.daily(self.baseline_usd) if self.baseline_model else None

    @property
    def savings_per_day(self) -> Decimal | None:
        return self.daily(self.baseline_usd - self.cost_usd) if self.baseline_model else None

    @property
    def caching_saved_per_day(self) -> Decimal | None:
        return self.daily(self.caching_saved_usd)


@dataclass(frozen=True)
class Report:
    window: ReportWindow
    summary: Summary
    #: quality per (task, model) row, where measurable
    row_quality: dict[tuple[str, str], Quality | None]
    tasks: list[TaskSavings]
    spend: list[ModelSpend]
    start: datetime | None
    end: datetime | None
    warnings: list[str]
    #: learned routes: how often each model was picked, and what it cost
    learned: list[LearnedPick] = field(default_factory=list)
    #: per task and model called: token classes from llm.costs
    token_classes: list[TokenClasses] = field(default_factory=list)
    #: per task and model: calls billed at the batch price, and what that saved
    batch: list[BatchShare] = field(default_factory=list)

    @property
    def span_s(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        span = (self.end - self.start).total_seconds()
        return span if span >= _MIN_SPAN_S else None

    @property
    def rows(self) -> list[Row]:
        return self.summary.rows


# -- reading ------------------------------------------------------------------------------


async def collect(kafka: KafkaSettings, window: ReportWindow) -> Collected:
    """Read the window of the results topics and of llm.costs."""
    collected = Collected()
    wanted = set(window.tasks)
    async with reader(kafka) as consumer:
        spans = await _spans(consumer, window)
        async for record in read_records(consumer, spans):
            _take(collected, record, wanted)
    return collected


def _take(collected: Collected, record: Record, wanted: set[str]) -> None:
    try:
        if record.topic == COSTS_TOPIC:
            event = decode(record.value, CostEvent)
            # shadow calls are the quality watch's, reported apart (quality_watch.py)
            if not event.shadow and (not wanted or event.task in wanted):
                collected.costs.append(event)
        else:
            stamp = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
            collected.results.append((stamp, decode(record.value, LLMResult)))
    except InvalidMessage:
        # llm.costs is shared by every task: another task's bad event is not ours.
        if record.topic != COSTS_TOPIC or not wanted or _task_of(record.value) in wanted:
            collected.unreadable += 1


def _task_of(raw: bytes | None) -> str | None:
    """The `task` of a message that is otherwise invalid, if it can be read at all."""
    try:
        obj = loads(raw or b"")
    except ValueError:  # orjson's decode error is a ValueError
        return None
    task = obj.get("task") if isinstance(obj, dict) else None
    return task if isinstance(task, str) else None


async def _spans(consumer: AIOKafkaConsumer, window: ReportWindow) -> dict[TopicPartition, Span]:
    """Offsets of every topic read, fixed now, with one end-offsets request for all of
    them so that results and their cost events are cut at (nearly) the same moment."""
    results = await partitions_of(consumer, await _results_topics(consumer, window.tasks))
    partitions = [tp for tps in results.values() for tp in tps]
    with contextlib.suppress(KafkaUnavailable):  # none yet: the cross-check says so
        partitions += await topic_partitions(consumer, COSTS_TOPIC)
    since = to_ms(window.since) if window.since is not None else None
    until = to_ms(window.until) if window.until is not None else None
    return await time_spans(consumer, partitions, since, until)


async def _results_topics(consumer: AIOKafkaConsumer, tasks: Sequence[str]) -> list[str]:
    existing = await topics_matching(consumer, RESULTS_PATTERN)
    if not tasks:
        return existing
    missing = [t for t in tasks if results_topic(t) not in existing]
    if missing:
        raise ConfigError(f"no results topic for task {missing[0]!r} ({results_topic(missing[0])})")
    return [results_topic(t) for t in tasks]


# -- figures ------------------------------------------------------------------------------


def build_report(
    collected: Collected,
    config: RouterConfig,
    window: ReportWindow,
    truths: TruthBook | None = None,
) -> Report:
    truths = truths or TruthBook()
    results = [r for _, r in collected.results]
    summary = summarise(results, config)
    start, end = _observed_span(collected, window)
    report = Report(
        window=window,
        summary=summary,
        row_quality=_row_quality(results, truths),
        tasks=[],
        spend=_spend(results, collected.costs),
        start=start,
        end=end,
        warnings=[],
        learned=learned_picks(results),
        token_classes=token_classes(collected.costs, config),
        batch=batch_shares(collected.costs, config),
    )
    report.tasks.extend(_savings(report, results, config, truths))
    report.warnings.extend(_warnings(report, collected, results))
    return report


def _observed_span(
    collected: Collected, window: ReportWindow
) -> tuple[datetime | None, datetime | None]:
    """The window the volume was observed in: as asked where asked, else as seen."""
    stamps = [t for t, _ in collected.results]
    if not stamps:
        return window.since, window.until
    start = window.since or min(stamps)
    if window.until is not None:
        end = min(window.until, collected.read_at)
    else:
        end = collected.read_at if window.since is not None else max(stamps)
    return start, end


def _row_quality(
    results: list[LLMResult], truths: TruthBook
) -> dict[tuple[str, str], Quality | None]:
    groups: dict[tuple[str, str], list[LLMResult]] = defaultdict(list)
    for result in results:
        groups[(result.task, result.model or "(failed)")].append(result)
    return {key: truths.quality(group) for key, group in groups.items()}


def _savings(
    report: Report, results: list[LLMResult], config: RouterConfig, truths: TruthBook
) -> list[TaskSavings]:
    by_task: dict[str, list[Row]] = defaultdict(list)
    for row in report.rows:
        by_task[row.task].append(row)
    per_day_factor = _DAY_S / report.span_s if report.span_s else None
    savings = []
    for task, rows in sorted(by_task.items()):
        requests = sum(r.requests for r in rows)
        task_results = [r for r in results if r.task == task]
        model, source = task_baseline(config, task)
        savings.append(
            TaskSavings(
                task=task,
                requests=requests,
                baseline_model=model,
                baseline_source=source,
                cost_usd=sum((r.cost_usd for r in rows), Decimal(0)),
                baseline_usd=sum((r.baseline_usd for r in rows), Decimal(0)),
                caching_saved_usd=sum((r.caching_saved_usd for r in rows), Decimal(0)),
                models=Counter(r.model or "(failed)" for r in task_results).most_common(),
                quality=truths.quality(task_results),
                per_day=requests * per_day_factor if per_day_factor else None,
            )
        )
    return savings


#: how a task's baseline was chosen, as reported beside it
BASELINE_SOURCES = {
    "baseline_model": "the task's baseline_model",
    "dearest": "no baseline_model: the catalog's most expensive model",
    "unknown task": "task not in the routing config: no baseline",
}


def task_baseline(config: RouterConfig, task: str) -> tuple[str | None, str]:
    """The task's baseline model and where it came from; None for a task the config does
    not know (pricing its traffic at some other config's model would be a guess)."""
    spec = config.tasks.get(task)
    if spec is None:
        return None, "unknown task"
    if spec.baseline_model:
        return spec.baseline_model, "baseline_model"
    return baseline_model(config, task), "dearest"


def check_report_tasks(config: RouterConfig, tasks: Sequence[str]) -> None:
    """`--task` names must be tasks of the config, whose baselines are known."""
    unknown = [t for t in tasks if t not in config.tasks]
    if unknown:
        raise ConfigError(
            f"task {unknown[0]!r} is not in the routing config, so its baseline is unknown: "
            "pass the --config that serves it"
        )


def _spend(results: Iterable[LLMResult], costs: Iterable[CostEvent]) -> list[ModelSpend]:
    events: Counter[str] = Counter()
    from_events: dict[str, Decimal] = defaultdict(Decimal)
    from_results: dict[str, Decimal] = defaultdict(Decimal)
    for event in costs:
        events[event.model] += 1
        from_events[event.model] += event.cost_usd
    for result in results:
        for attempt in result.attempts:
            from_results[attempt.model] += attempt.cost_usd
    models = sorted(set(from_events) | set(from_results), key=lambda m: -from_events[m])
    return [ModelSpend(m, events[m], from_events[m], from_results[m]) for m in models]


def _warnings(report: Report, collected: Collected, results: list[LLMResult]) -> list[str]:
    warnings = []
    for spend in report.spend:
        if spend.difference_usd != 0:
            warnings.append(
                f"{spend.model}: llm.costs has ${spend.cost_events_usd} but the results' "
                f"attempts sum to ${spend.results_usd} (difference ${spend.difference_usd})"
            )
    if warnings:
        warnings.append(_edge_explanation(collected, results))
    if collected.unreadable:
        warnings.append(f"{collected.unreadable} message(s) were not valid results or cost events")
    unknown = sorted({t.task for t in report.tasks if t.baseline_model is None})
    if unknown:
        warnings.append(
            f"task(s) {', '.join(unknown)} are not in the routing config: no baseline or "
            "savings for them (pass the --config that serves them)"
        )
    if results and report.span_s is None:
        warnings.append("the observed window is under a second: no daily projection")
    return warnings


def _edge_explanation(collected: Collected, results: list[LLMResult]) -> str:
    """How many results and cost events lack their counterpart: edges, or lost events."""
    result_ids = {r.request_id for r in results}
    event_ids = {e.request_id for e in collected.costs}
    orphans = sum(e.request_id not in result_ids for e in collected.costs)
    bare = sum(bool(r.attempts) and r.request_id not in event_ids for r in results)
    return (
        f"{orphans} cost event(s) have no result in the window and {bare} result(s) have no "
        "cost events: at the window's edges this is expected, anywhere else events were lost "
        "or duplicated"
    )

"""Run every example of an eval set through each candidate via router/, then score it.

Candidates run side by side, each with its own RoutingEngine (see `evaluation.candidates`) and at
most `concurrency` requests in flight, so one model's throughput is measured at that
concurrency whatever the others do. Judging (tone, and accuracy of element-based sets)
happens after all answers are in, so judge calls never count in latency or throughput.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation.candidates import Candidate, candidate_config
from llmrouter.evaluation.dataset import EvalExample, EvalSet, Kind
from llmrouter.evaluation.judge import Judge
from llmrouter.evaluation.metrics import completeness, label_accuracy
from llmrouter.evaluation.safety import instruction_segments, safety_failures
from llmrouter.router.config import (
    AdaptiveRoute,
    ComplexityRoute,
    LearnedRoute,
    RouterConfig,
    StaticRoute,
)
from llmrouter.router.engine import RoutingEngine
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, utc_now

__all__ = [
    "CandidateRun",
    "EvalRun",
    "ExampleResult",
    "Progress",
    "rich_progress",
    "run_eval",
]


@dataclass
class ExampleResult:
    """One example answered by one candidate, with its scores (None = not measured)."""

    candidate: str
    example_id: str
    category: str
    difficulty: str
    ok: bool
    output: str | None
    answered_by: str | None
    model_version: str | None
    latency_ms: float
    cost_usd: Decimal
    attempts: int
    escalated: bool
    fallback_used: bool
    accuracy: bool | None
    completeness: float | None
    safety: bool | None
    safety_failures: list[str]
    tone: float | None = None
    judge_cost_usd: Decimal = Decimal(0)
    error: str | None = None
    #: labelled sets: the truth (the report reads the answer's label with the task's field)
    expected_label: str | None = None


@dataclass
class CandidateRun:
    candidate: Candidate
    results: list[ExampleResult]
    #: wall-clock seconds from the first request to the last answer
    elapsed_s: float


@dataclass
class EvalRun:
    task: str
    dataset_path: Path | None
    kind: Kind
    runs: list[CandidateRun]
    judge: str | None = None
    simulated: bool = False
    started_at: datetime = field(default_factory=utc_now)
    #: the models the task's configured route names (for marking them in plots)
    route_models: tuple[str, ...] = ()


#: the judge's progress bar (a name no catalog model has: it holds spaces)
JUDGE_BAR = "judge (tone, accuracy)"


class Progress(Protocol):
    def add(self, label: str, total: int) -> None: ...

    def advance(self, label: str) -> None: ...


class _NoProgress:
    def add(self, label: str, total: int) -> None:
        pass

    def advance(self, label: str) -> None:
        pass


class _RichBars:
    def __init__(self, progress: RichProgress) -> None:
        self._progress = progress
        self._ids: dict[str, TaskID] = {}

    def add(self, label: str, total: int) -> None:
        self._ids[label] = self._progress.add_task(label, total=total)

    def advance(self, label: str) -> None:
        self._progress.advance(self._ids[label])


@contextmanager
def rich_progress(console: Console) -> Iterator[Progress]:
    """One bar per candidate (and one for the judge), on the given console."""
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with RichProgress(*columns, console=console, transient=False) as progress:
        yield _RichBars(progress)


async def run_eval(
    config: RouterConfig,
    dataset: EvalSet,
    candidates: Sequence[Candidate],
    *,
    dataset_path: Path | None = None,
    concurrency: int = 16,
    judge: Judge | None = None,
    judge_label: str | None = None,
    simulator_url: str | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    bars = progress or _NoProgress()
    task = dataset.task
    if task not in config.tasks:
        raise LLMRouterError(f"the routing config has no task {task!r}")
    for candidate in candidates:
        bars.add(candidate.label, len(dataset.examples))
    runs = await asyncio.gather(
        *(
            _run_candidate(config, dataset, c, i, concurrency, simulator_url, bars)
            for i, c in enumerate(candidates)
        )
    )
    if judge is not None:
        await _judge_all(judge, dataset, list(runs), concurrency, bars)
    return EvalRun(
        task=task,
        dataset_path=dataset_path,
        kind=dataset.kind,
        runs=list(runs),
        judge=judge_label,
        simulated=bool(simulator_url),
        route_models=_route_models(config, task),
    )


async def _run_candidate(
    config: RouterConfig,
    dataset: EvalSet,
    candidate: Candidate,
    index: int,
    concurrency: int,
    simulator_url: str | None,
    bars: Progress,
) -> CandidateRun:
    cfg = candidate_config(config, dataset.task, candidate)
    router = RoutingEngine(cfg, pool=ProviderPool(cfg.models, simulator_url=simulator_url))
    instructions = instruction_segments(cfg.tasks[dataset.task].prompt)
    slots = asyncio.Semaphore(concurrency)

    async def one(example: EvalExample) -> ExampleResult:
        request = LLMRequest(
            request_id=f"eval-{index}-{example.id}",
            task=dataset.task,
            input=example.input,
            context=example.context,
        )
        async with slots:
            result, error = await _route(router, request)
        bars.advance(candidate.label)
        return _score(candidate.label, example, dataset.kind, result, error, instructions)

    started = time.monotonic()
    try:
        results = await asyncio.gather(*(one(ex) for ex in dataset.examples))
    finally:
        await router.aclose()
    return CandidateRun(candidate, list(results), time.monotonic() - started)


async def _route(router: RoutingEngine, request: LLMRequest) -> tuple[LLMResult | None, str | None]:
    """The result (failed ones too) and the error, if any; never raises a router error."""
    try:
        routed = await router.route(request)
    except LLMRouterError as exc:
        return None, str(exc)
    if routed.failure is None:
        return routed.result, None
    return routed.result, routed.result.error or str(routed.failure)


def _score(
    label: str,
    example: EvalExample,
    kind: Kind,
    result: LLMResult | None,
    error: str | None,
    instructions: Sequence[str],
) -> ExampleResult:
    ok = result is not None and result.status is ResultStatus.OK
    output = result.output if result is not None and ok else None
    failures = safety_failures(output, example, instructions)
    accuracy: bool | None = None
    elements: float | None = None
    if kind is Kind.LABELLED:
        assert example.label is not None
        accuracy = label_accuracy(output, example.label)
    else:
        assert example.expected_elements is not None
        elements = completeness(output, example.expected_elements)
    return ExampleResult(
        candidate=label,
        example_id=example.id,
        category=example.category,
        difficulty=example.difficulty,
        ok=ok,
        output=output,
        answered_by=result.model if result is not None else None,
        model_version=result.model_version if result is not None else None,
        latency_ms=result.latency_ms if result is not None else 0.0,
        cost_usd=result.cost_usd if result is not None else Decimal(0),
        attempts=len(result.attempts) if result is not None else 0,
        escalated=bool(result and result.escalated),
        fallback_used=bool(result and result.fallback_used),
        accuracy=accuracy,
        completeness=elements,
        # Safety is a property of what was said: an unanswered request is not measured.
        safety=(not failures) if ok else None,
        safety_failures=failures,
        error=error,
        expected_label=example.label,
    )


async def _judge_all(
    judge: Judge, dataset: EvalSet, runs: list[CandidateRun], concurrency: int, bars: Progress
) -> None:
    """Tone for free-text answers; pass/fail accuracy for element-based sets."""
    if dataset.kind is Kind.LABELLED:
        return  # a label has no tone, and its accuracy is exact
    examples = {ex.id: ex for ex in dataset.examples}
    pending = [r for run in runs for r in run.results]
    bars.add(JUDGE_BAR, len(pending))
    slots = asyncio.Semaphore(concurrency)

    async def one(row: ExampleResult) -> None:
        async with slots:
            await _judge_one(judge, dataset.task, examples[row.example_id], row)
        bars.advance(JUDGE_BAR)

    await asyncio.gather(*(one(row) for row in pending))


async def _judge_one(judge: Judge, task: str, example: EvalExample, row: ExampleResult) -> None:
    if row.output is None:
        row.accuracy = False  # no answer fails, as in every other quality metric
        return
    tone = await judge.tone(task, example, row.output)
    verdict = await judge.passes(task, example, row.output)
    row.tone = float(tone.value) if isinstance(tone.value, int | float) else None
    row.accuracy = verdict.value if isinstance(verdict.value, bool) else None
    row.judge_cost_usd = tone.cost_usd + verdict.cost_usd


def _route_models(config: RouterConfig, task: str) -> tuple[str, ...]:
    """The models the task's default route answers with (fallbacks aside)."""
    route = config.tasks[task].route
    if isinstance(route, StaticRoute):
        return (route.model,)
    if isinstance(route, ComplexityRoute):
        return tuple(dict.fromkeys(route.levels.values()))
    if isinstance(route, LearnedRoute):
        return tuple(dict.fromkeys(route.models.values()))
    if isinstance(route, AdaptiveRoute):
        return tuple(dict.fromkeys(route.models))
    return tuple(dict.fromkeys(step.model for step in route.steps))

"""The quality worker's provider calls: shadow answers and judge grades, through a
RoutingEngine of their own on a config derived from the live one (the same catalog,
providers, retries, prices and shared limits), where each shadow model of a task is a
static task `<task>--shadow-<i>` with the task's prompt, and its judge the task
`<task>--judge` with the rubric as system prompt. Their spend is kept under those names in
the budget store: the shadow budget, apart from the task's.

They share each model's rpm, tpm and concurrency with the live routers (the same shared
limits, with a state store) but never take the last of them: a watch call is admitted only
while the model's use is under `WATCH_SHARE` of each limit, and waits at most
`WATCH_QUEUE_S` for that. So live requests always find the rest free, and a watch call
that finds no room in time is not made: its shadow result is `failed` (no call, no cost)
and its grade is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from llmrouter.core.errors import LLMRouterError
from llmrouter.router.config import ModelSpec, PromptSpec, RouterConfig, StaticRoute, TaskSpec
from llmrouter.router.engine import RoutingEngine
from llmrouter.router.judging import RUBRICS, grading_text, rubric_score
from llmrouter.router.state.wiring import RouterState
from llmrouter.schemas import Attempt, LLMRequest, LLMResult, utc_now

__all__ = [
    "WATCH_QUEUE_S",
    "WATCH_SHARE",
    "Grade",
    "WatchCalls",
    "judge_task",
    "shadow_task",
    "watch_config",
]

log = structlog.get_logger("llmrouter.workers.quality")

_JUDGE_OUTPUT_TOKENS = 200

#: the share of a model's rpm, tpm and max_concurrency that shadow and judge calls may fill
WATCH_SHARE = 0.8
#: how long a watch call waits for room under that share before it is not made
WATCH_QUEUE_S = 1.0


def shadow_task(task: str, index: int) -> str:
    return f"{task}--shadow-{index}"


def judge_task(task: str) -> str:
    return f"{task}--judge"


def watch_config(config: RouterConfig) -> RouterConfig | None:
    """The derived config of the shadow and judge calls; None when no task has either."""
    tasks: dict[str, TaskSpec] = {}
    for name, spec in config.tasks.items():
        if spec.shadow is not None:
            for i, model in enumerate(spec.shadow.models):
                tasks[shadow_task(name, i)] = TaskSpec(
                    prompt=spec.prompt,
                    route=StaticRoute(strategy="static", model=model),
                    max_output_tokens=spec.max_output_tokens,
                    timeout_s=spec.timeout_s,
                )
        if spec.judge is not None:
            tasks[judge_task(name)] = TaskSpec(
                prompt=PromptSpec(system=RUBRICS[spec.judge.rubric], response_format="json"),
                route=StaticRoute(strategy="static", model=spec.judge.model),
                max_output_tokens=_JUDGE_OUTPUT_TOKENS,
            )
    if not tasks:
        return None
    models = {name: _watch_model(spec) for name, spec in config.models.items()}
    return RouterConfig(
        version=1, defaults=config.defaults, models=models, classifiers={}, tasks=tasks
    )


def _watch_model(spec: ModelSpec) -> ModelSpec:
    """`spec` as watch calls see it: `WATCH_SHARE` of each limit, `WATCH_QUEUE_S` of wait."""

    def share(limit: int | None) -> int | None:
        return None if limit is None else max(1, int(limit * WATCH_SHARE))

    return spec.model_copy(
        update={
            "rpm": share(spec.rpm),
            "tpm": share(spec.tpm),
            "max_concurrency": share(spec.max_concurrency),
            "queue_s": WATCH_QUEUE_S,
        }
    )


@dataclass(frozen=True, slots=True)
class Grade:
    """A judge call: the score (None when the reply was not a grade) and its attempts."""

    score: float | None
    cost_usd: Decimal
    attempts: list[Attempt] = field(default_factory=list)


class WatchCalls:
    """Shadow and judge calls for the tasks of `config`."""

    def __init__(self, config: RouterConfig, state: RouterState) -> None:
        self.config = config
        derived = watch_config(config)
        self._engine = RoutingEngine(derived, state=state) if derived is not None else None

    def _names(self, task: str) -> list[str]:
        spec = self.config.tasks[task]
        names = (
            [shadow_task(task, i) for i in range(len(spec.shadow.models))] if spec.shadow else []
        )
        return [*names, judge_task(task)] if spec.judge is not None else names

    async def spent_usd(self, task: str) -> Decimal:
        """Today's spend on `task`'s shadow and judge calls."""
        if self._engine is None:
            return Decimal(0)
        budget = self._engine.budget
        names = self._names(task)
        for name in names:
            await budget.refresh(name)
        today = budget.snapshot()
        return sum((today.spent(name) for name in names), Decimal(0))

    async def shadow(self, request: LLMRequest, index: int) -> LLMResult:
        """Shadow model `index` of the request's task answering it, as a shadow result."""
        assert self._engine is not None
        task = request.task
        mirrored = LLMRequest.model_validate(
            {**request.model_dump(), "task": shadow_task(task, index), "created_at": utc_now()}
        )
        routed = await self._engine.route(mirrored)
        return routed.result.model_copy(update={"task": task, "source": "shadow"})

    async def grade(self, request: LLMRequest, answer: str) -> Grade:
        """The task's judge grading `answer` to `request` on the task's rubric."""
        assert self._engine is not None
        task = request.task
        spec = self.config.tasks[task]
        assert spec.judge is not None
        text = grading_text(task, spec.description, request.input, answer, context=request.context)
        asked = LLMRequest(
            request_id=request.request_id, task=judge_task(task), input=text, created_at=utc_now()
        )
        try:
            routed = await self._engine.route(asked)
        except LLMRouterError as exc:  # too long for the judge, say: not graded
            log.info("not graded", task=task, request_id=request.request_id, error=str(exc))
            return Grade(None, Decimal(0))
        result = routed.result
        score = rubric_score(spec.judge.rubric, result.output) if result.output else None
        return Grade(score, result.cost_usd, list(result.attempts))

    async def retire(self) -> None:
        """Close once the calls in progress are done (replaced by a reload)."""
        if self._engine is not None:
            await self._engine.idle()
        await self.aclose()

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.aclose(keep_state=True)

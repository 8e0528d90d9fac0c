"""The LLM judge: tone on a 1-10 rubric, and pass/fail accuracy for element-based sets.

The judge is a catalog model (`--judge NAME`, any form `evaluation.candidates` accepts),
called through router/ like any other model: the same providers, retries and prices. Its
cost is reported apart from the candidates' cost per query.

The rubrics and the reading of replies live in router/judging.py, shared with the online
judge. A judge reply counts only when it is what was asked for — JSON `{"score": 1-10}` /
`{"pass": true|false}`, or a bare score / verdict. Anything else (a refusal, chatter, the
provider simulator's canned text) is recorded as not measured, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation.candidates import Candidate, candidate_config
from llmrouter.evaluation.dataset import EvalExample
from llmrouter.router.config import PromptSpec, RouterConfig, StaticRoute, TaskSpec
from llmrouter.router.engine import RoutingEngine
from llmrouter.router.judging import ACCURACY_RUBRIC, TONE_RUBRIC, parse_pass, parse_score
from llmrouter.router.judging import grading_text as _grading_text
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.schemas import LLMRequest

__all__ = [
    "ACCURACY_RUBRIC",
    "TONE_RUBRIC",
    "Judge",
    "RouterJudge",
    "Verdict",
    "parse_pass",
    "parse_score",
]

TONE_TASK = "eval-judge-tone"
ACCURACY_TASK = "eval-judge-accuracy"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One judge call: the value (None when not measured) and what the call cost."""

    value: float | bool | None
    cost_usd: Decimal = Decimal(0)


class Judge(Protocol):
    async def tone(self, task: str, example: EvalExample, answer: str) -> Verdict: ...

    async def passes(self, task: str, example: EvalExample, answer: str) -> Verdict: ...

    async def aclose(self) -> None: ...


def grading_text(task: str, description: str | None, example: EvalExample, answer: str) -> str:
    """What the judge reads about `example` (router/judging.py's text, shared with the
    online judge)."""
    return _grading_text(
        task,
        description,
        example.input,
        answer,
        context=example.context,
        expected_elements=example.expected_elements,
    )


class RouterJudge:
    """A judge model behind its own RoutingEngine, on a config holding just the two judge tasks."""

    def __init__(
        self, config: RouterConfig, judge: Candidate, *, simulator_url: str | None = None
    ) -> None:
        self._descriptions = {name: spec.description for name, spec in config.tasks.items()}
        judged = _judge_config(config, judge)
        self.router = RoutingEngine(
            judged, pool=ProviderPool(judged.models, simulator_url=simulator_url)
        )
        self._seq = 0

    async def tone(self, task: str, example: EvalExample, answer: str) -> Verdict:
        reply, cost = await self._ask(TONE_TASK, task, example, answer)
        return Verdict(parse_score(reply) if reply is not None else None, cost)

    async def passes(self, task: str, example: EvalExample, answer: str) -> Verdict:
        reply, cost = await self._ask(ACCURACY_TASK, task, example, answer)
        return Verdict(parse_pass(reply) if reply is not None else None, cost)

    async def aclose(self) -> None:
        await self.router.aclose()

    async def _ask(
        self, judge_task: str, task: str, example: EvalExample, answer: str
    ) -> tuple[str | None, Decimal]:
        self._seq += 1
        request = LLMRequest(
            request_id=f"judge-{self._seq}-{example.id}",
            task=judge_task,
            input=grading_text(task, self._descriptions.get(task), example, answer),
        )
        try:
            routed = await self.router.route(request)
        except LLMRouterError:
            return None, Decimal(0)
        return routed.result.output, routed.result.cost_usd


def _judge_config(config: RouterConfig, judge: Candidate) -> RouterConfig:
    """The loaded catalog (so `NAME@ID` works) plus the two judge tasks, static to the judge."""
    any_task = next(iter(config.tasks))
    # candidate_config adds a repinned entry; its task is irrelevant, its catalog is not.
    base = candidate_config(config, any_task, judge)
    route = StaticRoute(strategy="static", model=judge.catalog_name)
    tasks = {
        TONE_TASK: TaskSpec(
            prompt=PromptSpec(system=TONE_RUBRIC, response_format="json"),
            route=route,
            max_output_tokens=200,
        ),
        ACCURACY_TASK: TaskSpec(
            prompt=PromptSpec(system=ACCURACY_RUBRIC, response_format="json"),
            route=route,
            max_output_tokens=200,
        ),
    }
    return RouterConfig(
        version=1,
        defaults=base.defaults,
        models=base.models,
        classifiers={},
        tasks=tasks,
    )

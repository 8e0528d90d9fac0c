"""Which models answer a request, in which order: pure functions of
(config, request, complexity, budget state) — cheap, and easy to test.

`select_route` picks the task's route, once per request; `plan` turns it into the ordered
models (an adaptive route's one model is sampled on its posteriors: router/adaptive.py). Precedence, first match wins: the task's daily budget is spent → `budget.downgrade_to`;
the request's `user_tier` has an override → `tiers.<tier>`; `priority: batch` and the task
has a batch route → `batch`; otherwise the task's `route`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llmrouter.router.adaptive import AdaptiveChooser
from llmrouter.router.budget import BudgetState
from llmrouter.router.config import (
    AdaptiveRoute,
    CascadeRoute,
    ComplexityRoute,
    LearnedRoute,
    Route,
    RouterConfig,
    StaticRoute,
    TaskSpec,
)
from llmrouter.router.learned import LearnedChoice, LearnedRouter
from llmrouter.router.scoring import DEFAULT_SCORER
from llmrouter.router.state.posteriors import MemoryPosteriors
from llmrouter.schemas import Complexity, LLMRequest, Priority

__all__ = [
    "RouteDecision",
    "SelectedRoute",
    "Step",
    "budget_spent",
    "decide",
    "downgraded",
    "plan",
    "select_route",
]


@dataclass(frozen=True, slots=True)
class Step:
    model: str
    #: accept the answer only at or above this confidence (cascades); None accepts any answer
    min_confidence: float | None = None
    #: the step's own scorer; None takes the decision's
    scorer: str | None = None


@dataclass(frozen=True, slots=True)
class SelectedRoute:
    route: StaticRoute | ComplexityRoute | CascadeRoute | LearnedRoute | AdaptiveRoute
    #: why this route: `default`, `tier:<tier>`, `batch` or `budget`
    source: str
    budget_exceeded: bool = False

    @property
    def classifier(self) -> str | None:
        """The classifier this route needs, if it routes by complexity."""
        return self.route.classifier if isinstance(self.route, ComplexityRoute) else None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    strategy: str
    source: str
    steps: tuple[Step, ...]
    fallbacks: tuple[str, ...]
    budget_exceeded: bool = False
    scorer: str = DEFAULT_SCORER
    #: a learned route's choice (its model as a catalog name) and predictions
    learned: LearnedChoice | None = None
    #: an adaptive route's chance of choosing its model (router/adaptive.py)
    probability: float | None = None

    def scorer_for(self, model: str) -> str:
        """The scorer of `model`'s step (a fallback: the route's)."""
        for step in self.steps:
            if step.model == model and step.scorer is not None:
                return step.scorer
        return self.scorer

    @property
    def label(self) -> str:
        """For results and logs, e.g. `complexity:MEDIUM` or `cascade (tier:free)`."""
        return self.strategy if self.source == "default" else f"{self.strategy} ({self.source})"


#: an adaptive route planned without a chooser takes its priors (decision tests, benchmarks)
_PRIORS_ONLY = AdaptiveChooser(MemoryPosteriors())


def budget_spent(task: TaskSpec, task_name: str, budget: BudgetState) -> bool:
    """Whether the task's daily budget is spent: the one test, made when the route is
    selected and again by each call on the budgeted route once it has its slot."""
    return task.budget is not None and budget.spent(task_name) >= task.budget.daily_usd


def downgraded(task: TaskSpec) -> SelectedRoute:
    """The route of a task whose daily budget is spent: `budget.downgrade_to`."""
    assert task.budget is not None, "only a task with a budget is downgraded"
    return SelectedRoute(task.budget.downgrade_to, "budget", budget_exceeded=True)


def select_route(task: TaskSpec, request: LLMRequest, budget: BudgetState) -> SelectedRoute:
    """The route `request` takes, by the precedence above."""
    if budget_spent(task, request.task, budget):
        return downgraded(task)
    if request.user_tier is not None and request.user_tier in task.tiers:
        return SelectedRoute(task.tiers[request.user_tier], f"tier:{request.user_tier.value}")
    if request.priority is Priority.BATCH and task.batch is not None:
        return SelectedRoute(task.batch, "batch")
    return SelectedRoute(task.route, "default")


def plan(
    selected: SelectedRoute,
    request: LLMRequest,
    complexity: Complexity | None,
    learned: Mapping[str, LearnedRouter] | None = None,
    adaptive: AdaptiveChooser | None = None,
) -> RouteDecision:
    """The ordered models of the selected route for `request`. A complexity route without
    a complexity (the classifier could not run) takes its MEDIUM model: neither the
    cheapest nor the dearest. `learned` holds the loaded router of every learned route, by
    its `router` path; `adaptive` the adaptive routes' choice probabilities (without it an
    adaptive route chooses on its priors)."""
    if isinstance(selected.route, LearnedRoute):
        return _learned(selected.route, selected, request, learned or {})
    if isinstance(selected.route, AdaptiveRoute):
        return _adaptive(selected.route, selected, request, adaptive)
    return _planned(selected.route, selected.source, complexity, selected.budget_exceeded)


#: the plans of static, complexity and cascade routes, which depend on nothing else: by
#: (route identity, source, complexity, budget exceeded), with the route kept (so its
#: identity is never another's); a config reload's routes get plans of their own
_PLANS: dict[tuple[int, str, Complexity | None, bool], tuple[Route, RouteDecision]] = {}
_MAX_PLANS = 4096


def _planned(
    route: Route, source: str, complexity: Complexity | None, budget_exceeded: bool
) -> RouteDecision:
    """`_plan`, made once per route and kept."""
    key = (id(route), source, complexity, budget_exceeded)
    known = _PLANS.get(key)
    if known is not None and known[0] is route:
        return known[1]
    decision = _plan(route, source, complexity, budget_exceeded)
    if len(_PLANS) >= _MAX_PLANS:  # routes of reloads long gone
        _PLANS.clear()
    _PLANS[key] = (route, decision)
    return decision


def decide(
    config: RouterConfig,
    request: LLMRequest,
    complexity: Complexity | None,
    budget: BudgetState,
    learned: Mapping[str, LearnedRouter] | None = None,
) -> RouteDecision:
    """`select_route` then `plan`, in one call (the decision tests and benchmarks)."""
    selected = select_route(config.tasks[request.task], request, budget)
    return plan(selected, request, complexity, learned)


def _learned(
    route: LearnedRoute,
    selected: SelectedRoute,
    request: LLMRequest,
    routers: Mapping[str, LearnedRouter],
) -> RouteDecision:
    """One model, the learned router's pick for this prompt, then the route's fallbacks."""
    choice = routers[str(route.router)].choose(
        request.input,
        request.task,
        cost_weight=route.cost_weight,
        quality_target=route.quality_target,
    )
    model = route.models[choice.model]
    fallbacks = tuple(dict.fromkeys(m for m in route.fallback if m != model))
    return RouteDecision(
        f"learned:{model}",
        selected.source,
        (Step(model),),
        fallbacks,
        selected.budget_exceeded,
        learned=LearnedChoice(model, choice.predicted_score, choice.predicted_cost_usd),
    )


def _adaptive(
    route: AdaptiveRoute,
    selected: SelectedRoute,
    request: LLMRequest,
    chooser: AdaptiveChooser | None,
) -> RouteDecision:
    """One model, sampled on the route's posteriors, then the route's fallbacks."""
    choice = (chooser or _PRIORS_ONLY).choose(request.task, route, request.request_id)
    fallbacks = tuple(dict.fromkeys(m for m in route.fallback if m != choice.model))
    return RouteDecision(
        f"adaptive:{choice.model}",
        selected.source,
        (Step(choice.model),),
        fallbacks,
        selected.budget_exceeded,
        probability=choice.probability,
    )


def _plan(
    route: Route, source: str, complexity: Complexity | None, budget_exceeded: bool
) -> RouteDecision:
    scorer = DEFAULT_SCORER
    if isinstance(route, LearnedRoute | AdaptiveRoute):
        raise TypeError("a learned or adaptive route is planned by _learned or _adaptive")
    if isinstance(route, StaticRoute):
        steps: tuple[Step, ...] = (Step(route.model),)
        strategy = "static"
    elif isinstance(route, ComplexityRoute):
        level = complexity or Complexity.MEDIUM
        steps = (Step(route.levels[level]),)
        strategy = f"complexity:{level.value}"
    else:
        last = len(route.steps) - 1
        steps = tuple(
            Step(s.model, None if i == last else s.min_confidence, s.scorer)
            for i, s in enumerate(route.steps)
        )
        strategy = "cascade"
        scorer = route.scorer
    in_steps = {s.model for s in steps}
    fallbacks = tuple(dict.fromkeys(m for m in route.fallback if m not in in_steps))
    return RouteDecision(strategy, source, steps, fallbacks, budget_exceeded, scorer)

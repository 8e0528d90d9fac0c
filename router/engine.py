"""The router: a request's story from its task to its result.

`RoutingEngine.route(request)` reads top to bottom: validate the request, select its route
(once, on the day's spend), classify it when that route needs a complexity, plan the
models, walk them (`cascade`: steps, then fallbacks, each model through one guarded call
in `calls`), and account. It returns a `Routed`: the request's `LLMResult` with one
`Attempt` per provider call or cache hit, `ok` or `failed`, and when no model answered,
`AllModelsFailed` beside it with every error seen, in order. A call that finds the task's
daily budget spent while it waited ends that walk, and the request goes on along the
downgrade route. `route_once` does the same at most once per request id
(router/state/dedupe.py); `classify` is the classifier stage's part alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog

from llmrouter.core.errors import (
    AllModelsFailed,
    LLMRouterError,
    MessageTooLarge,
    RequestExpired,
    UnknownTask,
)
from llmrouter.router.adaptive import AdaptiveChooser
from llmrouter.router.budget import Budget
from llmrouter.router.cache import ResponseCache
from llmrouter.router.calls import CallLedger, ModelCaller
from llmrouter.router.cascade import Cascade, CascadeOutcome
from llmrouter.router.classifiers import ClassifierVerdict, load_classifiers
from llmrouter.router.config import RouterConfig, TaskSpec
from llmrouter.router.config_quality import AdaptiveRoute
from llmrouter.router.decision import RouteDecision, SelectedRoute, downgraded, plan, select_route
from llmrouter.router.learned import load_learned_routes
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.router.routed import Earlier, Routed
from llmrouter.router.state.dedupe import input_fingerprint, route_once
from llmrouter.router.state.kept import keeping
from llmrouter.router.state.wiring import RouterState, local_state
from llmrouter.schemas import (
    ClassifiedRequest,
    Complexity,
    LLMRequest,
    LLMResult,
    ResultStatus,
    utc_now,
)

__all__ = ["RoutingEngine"]

log = structlog.get_logger("llmrouter.router")

P = ParamSpec("P")
R = TypeVar("R")


def _counted(
    method: Callable[Concatenate[RoutingEngine, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[RoutingEngine, P], Coroutine[Any, Any, R]]:
    """Counts the engine's calls in progress, for `RoutingEngine.idle`."""

    async def counted(self: RoutingEngine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        self._calls += 1
        self._idle.clear()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self._calls -= 1
            if not self._calls:
                self._idle.set()

    functools.update_wrapper(counted, method)
    return counted


class RoutingEngine:
    def __init__(
        self,
        config: RouterConfig,
        *,
        pool: ProviderPool | None = None,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
        state: RouterState | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.pool = pool or ProviderPool(config.models)
        self.cache = cache or ResponseCache.from_settings(config.defaults.cache)
        #: limiters, breakers, budget and dedupe: per process, or shared (router/state/)
        # Default: this process's own. The workers pass the shared state (launch.py); a
        # replay or an evaluation must not spend the live budget or hold live limits.
        self.state = state or local_state(config)
        self.budget = budget or self.state.budget
        self.caller = ModelCaller(
            config, self.pool, sleep=sleep, state=self.state, budget=self.budget
        )
        self.cascade = Cascade(config, self.caller, self.cache, sleep=sleep)
        self._classifiers = load_classifiers(config, self.caller)
        #: every learned route's router, loaded now so a bad file stops start-up
        self._learned = load_learned_routes(config)
        #: the adaptive routes' choice probabilities, from the posteriors (router/adaptive.py)
        self._adaptive = AdaptiveChooser(self.state.posteriors)
        #: calls of `classify`, `route` and `route_once` in progress (see `idle`)
        self._calls = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def aclose(self, *, keep_state: bool = False) -> None:
        """Close the provider clients and the cache, and the state unless `keep_state`
        (a reloaded router runs on with it: workers/lifecycle.py)."""
        await self.pool.aclose()
        await self.cache.close()
        if not keep_state:
            await self.state.aclose()

    async def idle(self) -> None:
        """Returns once no call is in progress: a replaced engine's records finish with
        it before its clients close."""
        await self._idle.wait()

    # -- the way in ----------------------------------------------------------------------

    def validate(self, request: LLMRequest) -> TaskSpec:
        """The task's spec, or the reason this request can never be routed."""
        task = self.config.tasks.get(request.task)
        if task is None:
            raise UnknownTask(f"no route for task {request.task!r}", request_id=request.request_id)
        if len(request.input) > self.config.defaults.max_input_chars:
            raise MessageTooLarge(
                f"input of {len(request.input)} characters is over the limit of "
                f"{self.config.defaults.max_input_chars}",
                request_id=request.request_id,
            )
        return task

    @_counted
    async def classify(
        self,
        request: LLMRequest,
        task: TaskSpec | None = None,
        *,
        ledger: CallLedger | None = None,
    ) -> ClassifierVerdict | None:
        """The complexity the request's route needs, or None when its route needs none.
        `task` is the request's spec when the caller has validated it already; `ledger`
        (from `ledger(request)`) holds the calls made even when this raises or is
        cancelled."""
        task = self.validate(request) if task is None else task
        selected = await self._select(request, task)
        if selected.classifier is None:
            return None
        ledger = self.ledger(request) if ledger is None else ledger
        verdict = await self._classifiers[selected.classifier].complexity_of(request, ledger)
        # The classifier stage publishes these calls' cost events (workers/handlers.py).
        return dataclasses.replace(verdict, attempts=list(ledger.attempts))

    @_counted
    async def route(self, request: LLMRequest, task: TaskSpec | None = None) -> Routed:
        """Select, classify, plan, walk, account: the request's result, `ok` or `failed`.
        `task` is the request's spec when the caller has validated it already."""
        return await self._route(request, task, self.ledger(request))

    async def _route(
        self, request: LLMRequest, task: TaskSpec | None, ledger: CallLedger
    ) -> Routed:
        """`route`, its calls booked in `ledger` (which keeps them if this raises)."""
        task = self.validate(request) if task is None else task
        started = time.monotonic()
        selected = await self._select(request, task)
        complexity = await self._complexity(request, selected, ledger)
        decision, outcome = await self._walk(request, task, selected, complexity, ledger)
        # Every call's cost was reserved and settled as it was made (ModelCaller).
        result = self._result(request, complexity, decision, outcome, ledger, started)
        log.info(
            "routed",
            request_id=request.request_id,
            task=request.task,
            status=result.status.value,
            model=result.model,
            complexity=complexity.value if complexity else None,
            route=decision.label,
            attempts=len(ledger.attempts),
            latency_ms=round(result.latency_ms, 1),
            cost_usd=format(result.cost_usd.normalize(), "f"),
        )
        if outcome.answer is not None:
            return Routed(result)
        expired = _expired(ledger.errors)
        if expired is not None:  # out of time, not failed by the models: no dead letter
            return Routed(result.model_copy(update={"error": str(expired)}))
        errors = ledger.errors or [LLMRouterError("no model was tried")]
        failure = AllModelsFailed(f"every model failed for request {request.request_id}", errors)
        return Routed(result, failure)

    @_counted
    async def route_once(
        self,
        request: LLMRequest,
        origin: str,
        task: TaskSpec | None = None,
        *,
        ledger: CallLedger | None = None,
    ) -> Routed | Earlier:
        """`route`, unless the request id has a result already: the `Earlier` one. `origin`
        names the record the request came in (a redelivery of it is not a duplicate). The id
        is the task's; reused for another input it raises `DuplicateConflict`, calling nothing.
        `ledger` (from `ledger(request)`) holds the calls made even when this raises or is
        cancelled, and says whether a result carrying them was kept (`ledger.kept`)."""
        defaults = self.config.defaults
        ledger = self.ledger(request) if ledger is None else ledger
        return await route_once(
            # a result stored marks the ledger `kept` (router/state/kept.py)
            keeping(self.state.dedupe, ledger),
            lambda: self._route(request, task, ledger),
            request.request_id,
            origin,
            # as long as the owner's whole request may take
            wait_s=defaults.timeout_s * defaults.max_calls_per_request,
            task=request.task,
            fingerprint=input_fingerprint(request),
        )

    # -- the steps -----------------------------------------------------------------------

    def ledger(self, request: LLMRequest) -> CallLedger:
        """A fresh book of the request's calls, for `route`, `route_once` or `classify`."""
        return CallLedger(request, self.config.defaults.max_calls_per_request)

    async def _select(self, request: LLMRequest, task: TaskSpec) -> SelectedRoute:
        """The request's route, on the task's spend as it is now."""
        await self.budget.refresh(request.task)
        return select_route(task, request, self.budget.snapshot())

    async def _complexity(
        self, request: LLMRequest, selected: SelectedRoute, ledger: CallLedger
    ) -> Complexity | None:
        """The complexity a classifier stage already found (its calls billed here), else
        the route's classifier's verdict, else None (the route needs none)."""
        if isinstance(request, ClassifiedRequest):
            ledger.attempts.extend(request.classifier_attempts)
            ledger.calls += len(request.classifier_attempts)
            if request.complexity is not None:
                return request.complexity
        if selected.classifier is None:
            return None
        verdict = await self._classifiers[selected.classifier].complexity_of(request, ledger)
        return verdict.complexity

    async def _walk(
        self,
        request: LLMRequest,
        task: TaskSpec,
        selected: SelectedRoute,
        complexity: Complexity | None,
        ledger: CallLedger,
    ) -> tuple[RouteDecision, CascadeOutcome]:
        """Walk the selected route; when its calls find the daily budget spent, walk the
        downgrade route instead, with every attempt so far kept."""
        if isinstance(selected.route, AdaptiveRoute):  # one store read per cache_s, at most
            await self._adaptive.refresh(request.task, selected.route)
        decision = plan(selected, request, complexity, self._learned, self._adaptive)
        ledger.on_budget = task.budget is not None and not selected.budget_exceeded
        outcome = await self.cascade.run(decision, task, ledger)
        if outcome.budget_spent:
            ledger.on_budget = False
            decision = plan(downgraded(task), request, complexity, self._learned, self._adaptive)
            outcome = await self.cascade.run(decision, task, ledger)
        return decision, outcome

    def _result(
        self,
        request: LLMRequest,
        complexity: Complexity | None,
        decision: RouteDecision,
        outcome: CascadeOutcome,
        ledger: CallLedger,
        started: float,
    ) -> LLMResult:
        answer = outcome.answer
        return LLMResult(
            request_id=request.request_id,
            task=request.task,
            status=ResultStatus.OK if answer else ResultStatus.FAILED,
            output=answer.text if answer else None,
            model=answer.model if answer else None,
            model_version=answer.model_version if answer else None,
            provider=self.config.models[answer.model].provider.value if answer else None,
            complexity=complexity,
            route=decision.label,
            attempts=ledger.attempts,
            escalated=outcome.escalated,
            fallback_used=outcome.fallback_used,
            cached=bool(answer and answer.cached),
            budget_exceeded=decision.budget_exceeded,
            confidence=answer.confidence if answer else None,
            cost_usd=sum((a.cost_usd for a in ledger.attempts), Decimal(0)),
            latency_ms=_latency_ms(request, started),
            user_tier=request.user_tier,
            priority=request.priority,
            metadata=request.metadata,
            error=None if answer else _summary(ledger.errors),
            learned_choice=decision.learned.model if decision.learned else None,
            predicted_score=decision.learned.predicted_score if decision.learned else None,
            route_probability=decision.probability,
        )


def _latency_ms(request: LLMRequest, started: float) -> float:
    if request.created_at is not None:
        return max(0.0, (utc_now() - request.created_at).total_seconds() * 1000)
    return (time.monotonic() - started) * 1000


def _expired(errors: list[Exception]) -> RequestExpired | None:
    """The expiry that ended the walk (router/calls.py), if one did."""
    last = errors[-1] if errors else None
    return last if isinstance(last, RequestExpired) else None


def _summary(errors: list[Exception]) -> str:
    if not errors:
        return "no model was tried"
    last = str(errors[-1])
    return f"{len(errors)} error(s); last: {last}"[:500]

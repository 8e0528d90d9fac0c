"""The router: a request's story from its task to its result.

`RoutingEngine.route(request)` validates the request, classifies it when its route needs a
complexity, decides the route (tier, batch, budget), walks it (`cascade`: steps, then
fallbacks, each model through one guarded call in `calls`), and returns an `LLMResult`
with one `Attempt` per provider call or cache hit. When no model answers it raises
`AllModelsFailed` — every error it saw, in order — carrying the failed result as `.result`,
so the caller can publish it and dead-letter the request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import structlog

from llmrouter.core.errors import (
    AllModelsFailed,
    BudgetSpent,
    CallBudgetExhausted,
    LLMRouterError,
    MessageTooLarge,
    UnknownTask,
)
from llmrouter.router.budget import Budget, BudgetState
from llmrouter.router.cache import ResponseCache
from llmrouter.router.calls import MODEL_UNAVAILABLE, CallLedger, ModelCaller
from llmrouter.router.cascade import Cascade, CascadeOutcome
from llmrouter.router.classifiers import ClassifierVerdict, RuleClassifier, parse_complexity
from llmrouter.router.config import (
    LLMClassifierSpec,
    RouterConfig,
    RulesClassifierSpec,
    RuleSpec,
    TaskSpec,
)
from llmrouter.router.decision import RouteDecision, decide, select_route
from llmrouter.router.learned import load_learned_routes
from llmrouter.router.prompts import RenderedPrompt
from llmrouter.router.providers.pool import ProviderPool
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

#: a classifier call failing with these falls back to the rules
_CLASSIFIER_UNAVAILABLE: tuple[type[Exception], ...] = (*MODEL_UNAVAILABLE, CallBudgetExhausted)

# Used when an LLM classifier fails and names no rules fallback of its own.
_DEFAULT_RULES = RulesClassifierSpec(
    kind="rules",
    rules=[
        RuleSpec(name="long", weight=1.0, min_chars=400),
        RuleSpec(name="several-questions", weight=1.0, min_questions=2),
        RuleSpec(name="many-sentences", weight=0.5, min_sentences=4),
    ],
)


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
        self.limiters = self.caller.limiters
        self.breakers = self.caller.breakers
        self._rules = {
            name: RuleClassifier(spec)
            for name, spec in config.classifiers.items()
            if isinstance(spec, RulesClassifierSpec)
        }
        self._default_rules = RuleClassifier(_DEFAULT_RULES)
        #: every learned route's router, loaded now so a bad file stops start-up
        self._learned = load_learned_routes(config)

    async def aclose(self) -> None:
        await self.pool.aclose()
        await self.cache.close()
        await self.state.aclose()

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

    async def classify(self, request: LLMRequest) -> ClassifierVerdict | None:
        """The complexity the request's route needs, or None when its route needs none."""
        task = self.validate(request)
        await self.budget.refresh(request.task)
        selected = select_route(task, request.task, request, self.budget.snapshot())
        if selected.classifier is None:
            return None
        ledger = self._ledger(request)
        verdict = await self._classify(selected.classifier, request, ledger)
        # The pipeline bills the classifier's calls with the request's result.
        return dataclasses.replace(verdict, attempts=list(ledger.attempts))

    async def route(self, request: LLMRequest) -> LLMResult:
        """Decide, walk the route, account: the request's result, or AllModelsFailed."""
        task = self.validate(request)
        started = time.monotonic()
        ledger = self._ledger(request)
        await self.budget.refresh(request.task)
        complexity = await self._complexity(request, task, ledger)
        budget = self.budget.snapshot()
        decision = decide(self.config, request, complexity, budget, self._learned)
        if task.budget is not None and not decision.budget_exceeded:
            ledger.budget_usd = task.budget.daily_usd
        try:
            outcome = await self.cascade.run(decision, task, ledger)
        except BudgetSpent as exc:  # reached while a call waited: to the downgrade route
            ledger.budget_usd = None
            spent = {**budget.spent_usd, request.task: exc.spent_usd}
            budget = BudgetState(day=budget.day, spent_usd=spent)
            decision = decide(self.config, request, complexity, budget, self._learned)
            outcome = await self.cascade.run(decision, task, ledger)
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
        if outcome.answer is None:
            raise AllModelsFailed(
                f"every model failed for request {request.request_id}",
                ledger.errors or [LLMRouterError("no model was tried")],
                result,
            )
        return result

    def _ledger(self, request: LLMRequest) -> CallLedger:
        return CallLedger(request, self.config.defaults.max_calls_per_request)

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
        )

    # -- classification ------------------------------------------------------------------

    async def _complexity(
        self, request: LLMRequest, task: TaskSpec, ledger: CallLedger
    ) -> Complexity | None:
        """The complexity a classifier stage already found, else the route's classifier's
        verdict, else None (the route needs none)."""
        complexity = None
        if isinstance(request, ClassifiedRequest):
            complexity = request.complexity
            ledger.attempts.extend(request.classifier_attempts)
            ledger.calls += len(request.classifier_attempts)
        selected = select_route(task, request.task, request, self.budget.snapshot())
        if complexity is None and selected.classifier is not None:
            verdict = await self._classify(selected.classifier, request, ledger)
            complexity = verdict.complexity
        return complexity

    async def _classify(
        self, name: str, request: LLMRequest, ledger: CallLedger
    ) -> ClassifierVerdict:
        spec = self.config.classifiers[name]
        if isinstance(spec, RulesClassifierSpec):
            return self._rules[name].classify(request.input)
        verdict = await self._classify_llm(spec, request, ledger)
        if verdict is not None:
            return verdict
        rules = self._rules.get(spec.fallback or "", self._default_rules)
        return rules.classify(request.input)

    async def _classify_llm(
        self, spec: LLMClassifierSpec, request: LLMRequest, ledger: CallLedger
    ) -> ClassifierVerdict | None:
        """One call, no retries: the rules are the fallback, and a classifier that waits on
        backoff costs more latency than it saves."""
        prompt = RenderedPrompt(
            system=None,
            user=spec.prompt.replace("{question}", request.input).replace("{input}", request.input),
            json_mode=False,
            version="classifier",
        )
        try:
            completion = await self.caller.call_once(
                spec.model,
                prompt,
                ledger,
                max_output_tokens=spec.max_output_tokens,
                purpose="classify",
            )
        except _CLASSIFIER_UNAVAILABLE as exc:
            log.warning("classifier failed; using rules", model=spec.model, error=str(exc))
            return None
        level = parse_complexity(completion.text)
        if level is None:
            log.warning("classifier reply unreadable; using rules", model=spec.model)
            return None
        return ClassifierVerdict(level, 0.85, "llm", f"llm: {spec.model}")


def _latency_ms(request: LLMRequest, started: float) -> float:
    if request.created_at is not None:
        return max(0.0, (utc_now() - request.created_at).total_seconds() * 1000)
    return (time.monotonic() - started) * 1000


def _summary(errors: list[Exception]) -> str:
    if not errors:
        return "no model was tried"
    last = str(errors[-1])
    return f"{len(errors)} error(s); last: {last}"[:500]

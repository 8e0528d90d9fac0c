"""The router: classify if needed, decide, call, retry, escalate, fall back, account.

`Router.route(request)` returns an `LLMResult` with one `Attempt` per provider call (or
cache hit), or raises `AllModelsFailed` — every error it saw, in order — carrying the failed
result as `.result`, so the caller can publish it and dead-letter the request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from llmrouter.core.errors import (
    AllModelsFailed,
    CallBudgetExhausted,
    ContextLengthExceeded,
    LLMRouterError,
    MessageTooLarge,
    ModelCoolingDown,
    ProviderError,
    UnknownTask,
)
from llmrouter.router.backoff import retries_allowed, retry_delay_s
from llmrouter.router.breaker import CircuitBreaker
from llmrouter.router.budget import BudgetTracker
from llmrouter.router.cache import CachedAnswer, ResponseCache, cache_key
from llmrouter.router.classifiers import ClassifierVerdict, RuleClassifier, parse_complexity
from llmrouter.router.config import (
    CacheSettings,
    CascadeRoute,
    LLMClassifierSpec,
    ModelSpec,
    RouterConfig,
    RulesClassifierSpec,
    RuleSpec,
    TaskCacheSettings,
    TaskSpec,
)
from llmrouter.router.decision import RouteDecision, decide, select_route
from llmrouter.router.prompts import RenderedPrompt, render_prompt
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.pool import ProviderPool
from llmrouter.router.providers.usage import estimate_tokens
from llmrouter.router.ratelimit import ModelLimiter
from llmrouter.router.scoring import Scorer, load_scorer
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    ClassifiedRequest,
    LLMRequest,
    LLMResult,
    ResultStatus,
    token_cost_usd,
    utc_now,
)

__all__ = ["Router"]

log = structlog.get_logger("llmrouter.router")

# Used when an LLM classifier fails and names no rules fallback of its own.
_DEFAULT_RULES = RulesClassifierSpec(
    kind="rules",
    rules=[
        RuleSpec(name="long", weight=1.0, min_chars=400),
        RuleSpec(name="several-questions", weight=1.0, min_questions=2),
        RuleSpec(name="many-sentences", weight=0.5, min_sentences=4),
    ],
)


@dataclass
class _Call:
    """Book-keeping of one request: the attempts made and the errors seen."""

    request: LLMRequest
    max_calls: int
    attempts: list[Attempt] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    calls: int = 0

    def take_call(self) -> None:
        if self.calls >= self.max_calls:
            raise CallBudgetExhausted(f"reached the bound of {self.max_calls} upstream calls")
        self.calls += 1


@dataclass(frozen=True, slots=True)
class _Answer:
    model: str
    text: str
    model_version: str
    confidence: float | None
    cached: bool


class Router:
    def __init__(
        self,
        config: RouterConfig,
        *,
        pool: ProviderPool | None = None,
        cache: ResponseCache | None = None,
        budget: BudgetTracker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.pool = pool or ProviderPool(config.models)
        self.cache = cache or ResponseCache.from_settings(config.defaults.cache)
        self.budget = budget or BudgetTracker()
        self._sleep = sleep
        self.limiters = {name: ModelLimiter(spec) for name, spec in config.models.items()}
        self.breakers = {
            name: CircuitBreaker(name, config.defaults.cooldown) for name in config.models
        }
        self._rules = {
            name: RuleClassifier(spec)
            for name, spec in config.classifiers.items()
            if isinstance(spec, RulesClassifierSpec)
        }
        self._default_rules = RuleClassifier(_DEFAULT_RULES)
        # Import every cascade's scorer now: a bad `module:function` stops start-up.
        self._scorers: dict[str, Scorer] = {
            name: load_scorer(name) for name in _scorer_names(config)
        }

    async def aclose(self) -> None:
        await self.pool.aclose()
        await self.cache.close()

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
        selected = select_route(task, request.task, request, self.budget.snapshot())
        if selected.classifier is None:
            return None
        call = _Call(request, self.config.defaults.max_calls_per_request)
        verdict = await self._classify(selected.classifier, request, call)
        # The pipeline bills the classifier's calls with the request's result.
        return dataclasses.replace(verdict, attempts=list(call.attempts))

    async def route(self, request: LLMRequest) -> LLMResult:
        task = self.validate(request)
        started = time.monotonic()
        call = _Call(request, self.config.defaults.max_calls_per_request)
        complexity = None
        if isinstance(request, ClassifiedRequest):
            complexity = request.complexity
            call.attempts.extend(request.classifier_attempts)
            call.calls += len(request.classifier_attempts)
        selected = select_route(task, request.task, request, self.budget.snapshot())
        if complexity is None and selected.classifier is not None:
            verdict = await self._classify(selected.classifier, request, call)
            complexity = verdict.complexity
        decision = decide(self.config, request, complexity, self.budget.snapshot())
        answer, escalated, fallback_used = await self._run(decision, task, call)
        result = LLMResult(
            request_id=request.request_id,
            task=request.task,
            status=ResultStatus.OK if answer else ResultStatus.FAILED,
            output=answer.text if answer else None,
            model=answer.model if answer else None,
            model_version=answer.model_version if answer else None,
            provider=self.config.models[answer.model].provider.value if answer else None,
            complexity=complexity,
            route=decision.label,
            attempts=call.attempts,
            escalated=escalated,
            fallback_used=fallback_used,
            cached=bool(answer and answer.cached),
            budget_exceeded=decision.budget_exceeded,
            confidence=answer.confidence if answer else None,
            cost_usd=sum((a.cost_usd for a in call.attempts), Decimal(0)),
            latency_ms=_latency_ms(request, started),
            user_tier=request.user_tier,
            priority=request.priority,
            metadata=request.metadata,
            error=None if answer else _summary(call.errors),
        )
        self.budget.add(request.task, result.cost_usd)
        log.info(
            "routed",
            request_id=request.request_id,
            task=request.task,
            status=result.status.value,
            model=result.model,
            complexity=complexity.value if complexity else None,
            route=decision.label,
            attempts=len(call.attempts),
            latency_ms=round(result.latency_ms, 1),
            cost_usd=format(result.cost_usd.normalize(), "f"),
        )
        if answer is None:
            failure = AllModelsFailed(
                f"every model failed for request {request.request_id}",
                call.errors or [LLMRouterError("no model was tried")],
            )
            failure.result = result
            raise failure
        return result

    # -- classification ------------------------------------------------------------------

    async def _classify(self, name: str, request: LLMRequest, call: _Call) -> ClassifierVerdict:
        spec = self.config.classifiers[name]
        if isinstance(spec, RulesClassifierSpec):
            return self._rules[name].classify(request.input)
        verdict = await self._classify_llm(spec, request, call)
        if verdict is not None:
            return verdict
        rules = self._rules.get(spec.fallback or "", self._default_rules)
        return rules.classify(request.input)

    async def _classify_llm(
        self, spec: LLMClassifierSpec, request: LLMRequest, call: _Call
    ) -> ClassifierVerdict | None:
        """The seed's classifier. One call, no retries: the rules are the fallback, and a
        classifier that waits on backoff costs more latency than it saves."""
        prompt = RenderedPrompt(
            system=None,
            user=spec.prompt.replace("{question}", request.input).replace("{input}", request.input),
            json_mode=False,
            version="classifier",
        )
        try:
            completion = await self._call_once(
                spec.model,
                prompt,
                call,
                max_output_tokens=spec.max_output_tokens,
                purpose="classify",
            )
        except (ProviderError, ModelCoolingDown, CallBudgetExhausted) as exc:
            log.warning("classifier failed; using rules", model=spec.model, error=str(exc))
            return None
        level = parse_complexity(completion.text)
        if level is None:
            log.warning("classifier reply unreadable; using rules", model=spec.model)
            return None
        return ClassifierVerdict(level, 0.85, "llm", f"llm: {spec.model}")

    # -- answering -----------------------------------------------------------------------

    async def _run(
        self, decision: RouteDecision, task: TaskSpec, call: _Call
    ) -> tuple[_Answer | None, bool, bool]:
        """Walk the steps, then the fallbacks. Returns (answer, escalated, fallback_used)."""
        chain = [(s.model, s.min_confidence, False) for s in decision.steps]
        chain += [(m, None, True) for m in decision.fallbacks]
        cooldown = self.config.defaults.cooldown
        waited_s = 0.0
        while True:
            escalated = False
            too_small_below = 0  # after a context-length error: skip windows this small
            for index, (model, min_confidence, is_fallback) in enumerate(chain):
                spec = self.config.models[model]
                if spec.context_window_tokens <= too_small_below:
                    continue
                try:
                    answer = await self._answer(model, task, decision, call)
                except CallBudgetExhausted as exc:
                    call.errors.append(exc)
                    return None, escalated, is_fallback
                except ContextLengthExceeded as exc:
                    call.errors.append(exc)
                    too_small_below = max(too_small_below, spec.context_window_tokens)
                    continue
                except (ProviderError, ModelCoolingDown) as exc:
                    call.errors.append(exc)
                    escalated = escalated or (not is_fallback and index < len(decision.steps) - 1)
                    continue
                if min_confidence is not None and (
                    answer.confidence is None or answer.confidence < min_confidence
                ):
                    call.attempts[-1] = call.attempts[-1].model_copy(
                        update={"outcome": AttemptOutcome.LOW_CONFIDENCE}
                    )
                    escalated = True
                    continue
                return answer, escalated, is_fallback
            # Every model cooling down at once: wait briefly instead of failing (ANCHORS #6).
            recent = call.errors[-len(chain) :]
            if len(recent) == len(chain) and all(isinstance(e, ModelCoolingDown) for e in recent):
                wait_s = min(e.retry_in_s for e in recent if isinstance(e, ModelCoolingDown))
                if waited_s + wait_s <= cooldown.max_wait_s:
                    waited_s += wait_s
                    await self._sleep(wait_s)
                    continue
            return None, escalated, False

    async def _answer(
        self, model: str, task: TaskSpec, decision: RouteDecision, call: _Call
    ) -> _Answer:
        request = call.request
        prompt = render_prompt(task.prompt, model, request.input, request.context)
        spec = self.config.models[model]
        cache_settings = task.cache or self.config.defaults.cache
        temperature = (
            spec.temperature if spec.temperature is not None else self.config.defaults.temperature
        )
        use_cache = cache_settings.enabled and (temperature == 0 or cache_settings.cache_sampled)
        key = cache_key(request.task, model, prompt.version, request.input, request.context)
        scorer = self._scorer(decision.scorer)
        if use_cache:
            hit = await self.cache.get(key)
            if hit is not None:
                call.attempts.append(
                    Attempt(
                        model=model,
                        provider=spec.provider.value,
                        model_version=hit.model_version,
                        outcome=AttemptOutcome.CACHE_HIT,
                        latency_ms=0.0,
                        cached=True,
                        confidence=hit.confidence,
                    )
                )
                return _Answer(model, hit.text, hit.model_version, hit.confidence, cached=True)
        completion = await self._call_with_retries(model, prompt, call, task)
        confidence = scorer(request.task, request.input, completion.text)
        call.attempts[-1] = call.attempts[-1].model_copy(update={"confidence": confidence})
        if use_cache:
            await self._store(key, completion, confidence, cache_settings)
        return _Answer(model, completion.text, completion.model_version, confidence, cached=False)

    async def _store(
        self,
        key: str,
        completion: Completion,
        confidence: float | None,
        settings: CacheSettings | TaskCacheSettings,
    ) -> None:
        answer = CachedAnswer(
            text=completion.text,
            model_version=completion.model_version,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            confidence=confidence,
        )
        await self.cache.set(key, answer, settings.ttl_s)

    async def _call_with_retries(
        self, model: str, prompt: RenderedPrompt, call: _Call, task: TaskSpec
    ) -> Completion:
        retry = self.config.defaults.retry
        retry_no = 0
        while True:
            try:
                return await self._call_once(
                    model,
                    prompt,
                    call,
                    max_output_tokens=self._max_output_tokens(model, task),
                    timeout_s=self._timeout_s(model, task),
                )
            except ProviderError as exc:
                if retry_no >= retries_allowed(exc, retry):
                    raise
                delay_s = retry_delay_s(retry_no, retry, getattr(exc, "retry_after_s", None))
                if delay_s is None:  # Retry-After too long: a fallback serves sooner
                    raise
                call.errors.append(exc)
                retry_no += 1
                await self._sleep(delay_s)

    async def _call_once(
        self,
        model: str,
        prompt: RenderedPrompt,
        call: _Call,
        *,
        max_output_tokens: int,
        timeout_s: float | None = None,
        purpose: str = "answer",
    ) -> Completion:
        """Exactly one upstream call, recorded as one Attempt whatever its outcome."""
        spec = self.config.models[model]
        prompt_tokens = estimate_tokens((prompt.system or "") + prompt.user)
        if prompt_tokens + max_output_tokens > spec.context_window_tokens:
            raise ContextLengthExceeded(
                f"~{prompt_tokens} prompt tokens do not fit the {spec.context_window_tokens}-token window",
                model=model,
                provider=spec.provider.value,
            )
        breaker = self.breakers[model]
        breaker.before_call()
        call.take_call()
        client = self.pool.client_for(model)
        chat = ChatRequest(
            model_id=spec.model_id,
            system=prompt.system,
            user=prompt.user,
            max_output_tokens=max_output_tokens,
            temperature=spec.temperature
            if spec.temperature is not None
            else self.config.defaults.temperature,
            timeout_s=timeout_s or spec.timeout_s or self.config.defaults.timeout_s,
            json_mode=prompt.json_mode,
        )
        started = time.monotonic()
        try:
            async with self.limiters[model].slot(prompt_tokens + max_output_tokens):
                started = time.monotonic()
                completion = await client.complete(chat)
        except ProviderError as exc:
            breaker.record_failure(exc)
            exc.model = model
            call.attempts.append(_failed_attempt(model, spec, exc, started, purpose))
            self._log_attempt(call, level="info")
            raise
        except BaseException as exc:  # cancelled: free a half-open probe slot
            breaker.record_failure(exc)
            raise
        breaker.record_success()
        call.attempts.append(_ok_attempt(model, spec, completion, started, purpose))
        self._log_attempt(call, level="debug")
        return completion

    @staticmethod
    def _log_attempt(call: _Call, *, level: str) -> None:
        attempt = call.attempts[-1]
        getattr(log, level)(
            "attempt",
            request_id=call.request.request_id,
            task=call.request.task,
            attempt=len(call.attempts) - 1,
            purpose=attempt.purpose,
            model=attempt.model,
            outcome=attempt.outcome.value,
            latency_ms=round(attempt.latency_ms, 1),
            cost_usd=format(attempt.cost_usd.normalize(), "f"),
            error=attempt.error,
        )

    def _timeout_s(self, model: str, task: TaskSpec) -> float:
        return (
            task.timeout_s or self.config.models[model].timeout_s or self.config.defaults.timeout_s
        )

    def _max_output_tokens(self, model: str, task: TaskSpec) -> int:
        return (
            task.max_output_tokens
            or self.config.models[model].max_output_tokens
            or self.config.defaults.max_output_tokens
        )

    def _scorer(self, name: str) -> Scorer:
        return self._scorers[name]


def _scorer_names(config: RouterConfig) -> set[str]:
    names = {"json_confidence"}
    for task in config.tasks.values():
        routes = [task.route, *task.tiers.values(), task.batch]
        routes += [task.budget.downgrade_to] if task.budget else []
        names |= {r.scorer for r in routes if isinstance(r, CascadeRoute)}
    return names


def _ok_attempt(
    model: str, spec: ModelSpec, completion: Completion, started: float, purpose: str
) -> Attempt:
    return Attempt(
        model=model,
        provider=spec.provider.value,
        model_version=completion.model_version,
        purpose="classify" if purpose == "classify" else "answer",
        outcome=AttemptOutcome.OK,
        latency_ms=(time.monotonic() - started) * 1000,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cost_usd=token_cost_usd(
            completion.input_tokens,
            completion.output_tokens,
            spec.input_usd_per_1k,
            spec.output_usd_per_1k,
        ),
    )


def _failed_attempt(
    model: str, spec: ModelSpec, exc: ProviderError, started: float, purpose: str
) -> Attempt:
    return Attempt(
        model=model,
        provider=spec.provider.value,
        model_version=spec.model_id,
        purpose="classify" if purpose == "classify" else "answer",
        outcome=AttemptOutcome(exc.outcome),
        latency_ms=(time.monotonic() - started) * 1000,
        error=str(exc),
    )


def _latency_ms(request: LLMRequest, started: float) -> float:
    if request.created_at is not None:
        return max(0.0, (utc_now() - request.created_at).total_seconds() * 1000)
    return (time.monotonic() - started) * 1000


def _summary(errors: list[Exception]) -> str:
    if not errors:
        return "no model was tried"
    last = str(errors[-1])
    return f"{len(errors)} error(s); last: {last}"[:500]

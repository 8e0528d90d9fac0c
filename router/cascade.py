"""The walk over a decision's models until one gives an answer good enough to keep.

The route's steps come first, cheapest first: an answer below its step's `min_confidence`
escalates to the next step. Then the fallbacks, in order, take over from errors. Each model
answers from the cache when it may, else through one guarded call with retries. A model
whose window proved too small skips every model with a window no larger; when every model
is cooling down at once the walk waits briefly (`defaults.cooldown.max_wait_s`) and starts
again, because a short wait serves the request sooner than failing it. An answer that
breaks the task's `prompt.response_schema` is an error like a provider's (`invalid_output`):
the walk moves on to the next step or fallback. A call that finds
the task's daily budget spent ends the walk (`CascadeOutcome.budget_spent`): the engine
goes on along the downgrade route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from llmrouter.core.errors import (
    BudgetSpent,
    CallBudgetExhausted,
    ContextLengthExceeded,
    InvalidOutput,
    ModelCoolingDown,
)
from llmrouter.router.answer_schema import check_answer
from llmrouter.router.cache import CachedAnswer, ResponseCache, cache_key
from llmrouter.router.calls import MODEL_UNAVAILABLE, CallLedger, ModelCaller, temperature_for
from llmrouter.router.config import (
    CacheSettings,
    CascadeRoute,
    RouterConfig,
    TaskCacheSettings,
    TaskSpec,
)
from llmrouter.router.decision import RouteDecision
from llmrouter.router.prompts import render_prompt
from llmrouter.router.providers.base import Completion
from llmrouter.router.scoring import DEFAULT_SCORER, Scorer, load_scorer
from llmrouter.schemas import Attempt, AttemptOutcome

__all__ = ["Answer", "Cascade", "CascadeOutcome"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer a model gave (or the cache gave for it)."""

    model: str
    text: str
    model_version: str
    confidence: float | None
    cached: bool


@dataclass(frozen=True, slots=True)
class CascadeOutcome:
    """How the walk ended: the answer kept (None when every model failed), whether a step
    was passed over for a later one, whether the answer came from a fallback, and whether
    the walk stopped because the task's daily budget was spent while a call waited."""

    answer: Answer | None
    escalated: bool
    fallback_used: bool
    budget_spent: bool = False


class Cascade:
    def __init__(
        self,
        config: RouterConfig,
        caller: ModelCaller,
        cache: ResponseCache,
        *,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.config = config
        self._caller = caller
        self._cache = cache
        self._sleep = sleep
        # Import every cascade's scorer now: a bad `module:function` stops start-up.
        self._scorers: dict[str, Scorer] = {
            name: load_scorer(name) for name in _scorer_names(config)
        }

    async def run(
        self, decision: RouteDecision, task: TaskSpec, ledger: CallLedger
    ) -> CascadeOutcome:
        """Walk the steps, then the fallbacks; every error seen goes to the ledger."""
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
                    answer = await self._answer(model, task, decision, ledger)
                except BudgetSpent:  # no call was made; the downgrade route takes over
                    return CascadeOutcome(None, escalated, is_fallback, budget_spent=True)
                except CallBudgetExhausted as exc:
                    ledger.errors.append(exc)
                    return CascadeOutcome(None, escalated, is_fallback)
                except ContextLengthExceeded as exc:
                    ledger.errors.append(exc)
                    too_small_below = max(too_small_below, spec.context_window_tokens)
                    continue
                except MODEL_UNAVAILABLE as exc:
                    ledger.errors.append(exc)
                    escalated = escalated or (not is_fallback and index < len(decision.steps) - 1)
                    continue
                if min_confidence is not None and (
                    answer.confidence is None or answer.confidence < min_confidence
                ):
                    ledger.amend_last(outcome=AttemptOutcome.LOW_CONFIDENCE)
                    escalated = True
                    continue
                return CascadeOutcome(answer, escalated, is_fallback)
            # Every model cooling down at once: wait briefly instead of failing.
            recent = ledger.errors[-len(chain) :]
            if len(recent) == len(chain) and all(isinstance(e, ModelCoolingDown) for e in recent):
                wait_s = min(e.retry_in_s for e in recent if isinstance(e, ModelCoolingDown))
                if waited_s + wait_s <= cooldown.max_wait_s:
                    waited_s += wait_s
                    await self._sleep(wait_s)
                    continue
            return CascadeOutcome(None, escalated, False)

    async def _answer(
        self, model: str, task: TaskSpec, decision: RouteDecision, ledger: CallLedger
    ) -> Answer:
        """One model's answer: from the cache when allowed and present, else from a call,
        scored for confidence and stored for next time."""
        request = ledger.request
        prompt = render_prompt(task.prompt, model, request.input, request.context)
        spec = self.config.models[model]
        cache_settings = task.cache or self.config.defaults.cache
        temperature = temperature_for(spec, self.config.defaults)
        use_cache = cache_settings.enabled and (temperature == 0 or cache_settings.cache_sampled)
        # the key only for a cache in use (it hashes the normalised input: not free)
        key = (
            cache_key(request.task, model, prompt.version, request.input, request.context)
            if use_cache
            else ""
        )
        scorer = self._scorers[decision.scorer_for(model)]
        if use_cache:
            hit = await self._cache.get(key)
            if hit is not None:
                ledger.attempts.append(
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
                return Answer(model, hit.text, hit.model_version, hit.confidence, cached=True)
        completion = await self._caller.call_with_retries(model, prompt, ledger, task)
        schema = task.prompt.response_schema
        if schema is not None:
            try:
                check_answer(completion.text, schema, model=model, provider=spec.provider.value)
            except InvalidOutput as exc:  # billed, not kept: the walk moves on
                ledger.amend_last(outcome=AttemptOutcome.INVALID_OUTPUT, error=str(exc))
                raise
        confidence = scorer(request.task, request.input, completion.text)
        if confidence != ledger.attempts[-1].confidence:  # a copy only for a new value
            ledger.amend_last(confidence=confidence)
        if use_cache:
            await self._store(key, completion, confidence, cache_settings)
        return Answer(model, completion.text, completion.model_version, confidence, cached=False)

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
        await self._cache.set(key, answer, settings.ttl_s)


def _scorer_names(config: RouterConfig) -> set[str]:
    names = {DEFAULT_SCORER}
    for task in config.tasks.values():
        routes = [task.route, *task.tiers.values(), task.batch]
        routes += [task.budget.downgrade_to] if task.budget else []
        names |= {r.scorer for r in routes if isinstance(r, CascadeRoute)}
        names |= {
            s.scorer
            for r in routes
            if isinstance(r, CascadeRoute)
            for s in r.steps
            if s.scorer is not None
        }
    return names

"""One model call, made safely and accounted for.

`ModelCaller.call_once` checks the prompt fits the model's window, asks the model's circuit
breaker, spends one of the request's upstream calls, waits for a rate-limiter slot, calls
the provider, and records exactly one `Attempt` whatever happens (a call cut off in flight,
cancelled with its record, is `abandoned`: billed at its prompt's estimated input tokens
and no output tokens, since the provider reported nothing). A call that gets no slot
within the model's `queue_s` (for a realtime request on a model without one,
`defaults.realtime_queue_s`) is not made: it raises `LimitQueueFull`, records no attempt,
gives the upstream call back and leaves the breaker as it was. A call on the task's
budgeted route that finds the day's budget spent once it has its slot is not made either:
it raises `BudgetSpent` the same way, and the cascade ends the route's walk there. A call
of a request past its deadline or max age (router/expiry.py), checked before the call
asks for its slot and again once it has it, is not made either: it raises `RequestExpired`,
which ends the walk, and the request's result is `failed` with reason `expired`.
`call_with_retries` repeats a call on the same model as the retry settings allow.
`CallLedger` is the request's book: the attempts made, the errors seen, the calls spent
against the per-request bound.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import structlog

from llmrouter.core.errors import (
    BudgetSpent,
    CallBudgetExhausted,
    ContextLengthExceeded,
    LimitQueueFull,
    ModelCoolingDown,
    ProviderError,
    RequestExpired,
)
from llmrouter.router.backoff import retries_allowed, retry_delay_s
from llmrouter.router.breaker import Breaker
from llmrouter.router.budget import Budget, Reservation
from llmrouter.router.config import Defaults, ModelSpec, RouterConfig, TaskSpec
from llmrouter.router.config_catalog import Provider
from llmrouter.router.decision import budget_spent
from llmrouter.router.expiry import expiry_reason
from llmrouter.router.pricing import UsageClasses, price_call
from llmrouter.router.prompts import RenderedPrompt
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.usage import (
    OPENAI_MIN_CACHED_TOKENS,
    anthropic_min_cacheable_tokens,
    estimate_tokens,
)
from llmrouter.router.ratelimit import Limiter
from llmrouter.router.state.wiring import RouterState, local_state
from llmrouter.router.telemetry import provider_call_span, record_attempt
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    ClassifiedRequest,
    LLMRequest,
    Priority,
    utc_now,
)

if TYPE_CHECKING:
    from llmrouter.router.providers.pool import ProviderPool

__all__ = ["MODEL_UNAVAILABLE", "CallLedger", "ModelCaller", "Purpose", "temperature_for"]

#: What a call raises when this model cannot answer now and the route should move on to
#: its next model: the provider refused, the model is cooling down, or no limiter slot
#: came within its `queue_s`.
MODEL_UNAVAILABLE: tuple[type[Exception], ...] = (ProviderError, ModelCoolingDown, LimitQueueFull)

log = structlog.get_logger("llmrouter.router")

#: what a call is for: answering the request, or classifying its complexity
Purpose = Literal["answer", "classify"]


@dataclass
class CallLedger:
    """Book-keeping of one request: the attempts made, the errors seen, the calls spent."""

    request: LLMRequest
    max_calls: int
    attempts: list[Attempt] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    calls: int = 0
    #: True while the request is on its task's budgeted route: each call checks the day's
    #: spend again once it has its model's slot (it may have waited long)
    on_budget: bool = False
    #: True once a result carrying these attempts is kept for the request id
    #: (router/state/kept.py): whoever publishes that result publishes their cost events
    kept: bool = False

    #: whether each call checks the request's deadline and max age just before it is made
    #: (router/expiry.py); None: when the request came through the pipeline (a classified
    #: request), not for a replay or an evaluation, whose requests' deadlines are history
    check_expiry: bool | None = None

    def expires_at_call_time(self) -> bool:
        if self.check_expiry is not None:
            return self.check_expiry
        return isinstance(self.request, ClassifiedRequest)

    def take_call(self) -> None:
        """Spend one upstream call, or raise when the request's bound is reached."""
        if self.calls >= self.max_calls:
            raise CallBudgetExhausted(f"reached the bound of {self.max_calls} upstream calls")
        self.calls += 1

    def give_back_call(self) -> None:
        """Return a call taken for a call that was never made (no limiter slot in time)."""
        self.calls -= 1

    def amend_last(self, **update: Any) -> None:
        """Correct the latest attempt once more is known (its confidence, a rejection)."""
        self.attempts[-1] = self.attempts[-1].model_copy(update=update)


def temperature_for(spec: ModelSpec, defaults: Defaults) -> float:
    """The model's own temperature, else the configured default."""
    return spec.temperature if spec.temperature is not None else defaults.temperature


class ModelCaller:
    """Guarded calls to the catalog's models: one breaker and one limiter per model."""

    def __init__(
        self,
        config: RouterConfig,
        pool: ProviderPool,
        *,
        sleep: Callable[[float], Awaitable[None]],
        state: RouterState | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.config = config
        self.pool = pool
        self._sleep = sleep
        # Per process, or shared by every replica through the store (router/state/).
        state = state or local_state(config)
        self.limiters: Mapping[str, Limiter] = state.limiters
        self.breakers: Mapping[str, Breaker] = state.breakers
        self.budget: Budget = budget or state.budget

    async def call_with_retries(
        self, model: str, prompt: RenderedPrompt, ledger: CallLedger, task: TaskSpec
    ) -> Completion:
        """Call `model` for the task's answer, retrying the same model as `defaults.retry`
        allows; each retried error is kept in the ledger, the last one is raised."""
        retry = self.config.defaults.retry
        retry_no = 0
        while True:
            try:
                return await self.call_once(
                    model,
                    prompt,
                    ledger,
                    max_output_tokens=self._max_output_tokens(model, task),
                    timeout_s=self._timeout_s(model, task),
                )
            except ProviderError as exc:
                if retry_no >= retries_allowed(exc, retry):
                    raise
                delay_s = retry_delay_s(retry_no, retry, getattr(exc, "retry_after_s", None))
                if delay_s is None:  # Retry-After too long: a fallback serves sooner
                    raise
                ledger.errors.append(exc)
                retry_no += 1
                await self._sleep(delay_s)

    async def call_once(
        self,
        model: str,
        prompt: RenderedPrompt,
        ledger: CallLedger,
        *,
        max_output_tokens: int,
        timeout_s: float | None = None,
        purpose: Purpose = "answer",
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
        self._check_expiry(ledger)
        breaker = self.breakers[model]
        await breaker.admit()
        ledger.take_call()
        client = self.pool.client_for(model)
        chat = ChatRequest(
            model_id=spec.model_id,
            system=prompt.system,
            user=prompt.user,
            max_output_tokens=max_output_tokens,
            temperature=temperature_for(spec, self.config.defaults),
            timeout_s=timeout_s or spec.timeout_s or self.config.defaults.timeout_s,
            json_mode=prompt.json_mode,
            cache_prefix_chars=prompt.static_chars,
            cache_ttl=prompt.cache_ttl,
            response_schema=prompt.response_schema,
        )
        # The budget holds the call's worst case while it runs: input estimated (a static
        # prefix a prompt cache will likely serve at its read price), the whole output
        # allowance at the output price; it settles to the real classes' cost after.
        worst_case_usd, _ = price_call(
            spec,
            UsageClasses(
                prompt_tokens,
                max_output_tokens,
                cache_read_tokens=_likely_cache_read_tokens(spec, prompt, prompt_tokens),
            ),
        )
        reservation: Reservation | None = None
        async with contextlib.AsyncExitStack() as held:
            try:
                lease = await held.enter_async_context(
                    self.limiters[model].slot(
                        prompt_tokens + max_output_tokens,
                        task=ledger.request.task,
                        default_queue_s=self._default_queue_s(ledger.request),
                    )
                )
            except LimitQueueFull as exc:
                # No call was made: no attempt, the request's call back, the breaker
                # neither healthier nor sicker (a half-open probe slot is freed).
                ledger.give_back_call()
                breaker.record_failure(exc)
                raise
            except BaseException as exc:  # cancelled while queued: free a probe slot
                breaker.record_failure(exc)
                raise
            self._check_expiry(ledger, breaker)
            if ledger.on_budget:
                await self._check_budget(ledger, breaker)
            with provider_call_span(model, spec.provider.value, chat, purpose) as span:
                started = time.monotonic()
                sent = False
                try:
                    reservation = await self.budget.reserve(ledger.request.task, worst_case_usd)
                    started = time.monotonic()
                    sent = True
                    completion = await client.complete(chat)
                    lease.report(completion.input_tokens + completion.output_tokens)
                except ProviderError as exc:
                    breaker.record_failure(exc)
                    exc.model = model
                    ledger.attempts.append(_failed_attempt(model, spec, exc, started, purpose))
                    record_attempt(span, ledger.attempts[-1])
                    _log_attempt(ledger, level="info")
                    await self._settle(reservation, Decimal(0))
                    raise
                except BaseException as exc:  # cancelled: free a half-open probe slot
                    breaker.record_failure(exc)
                    cost_usd = Decimal(0)
                    if sent:  # cut off in flight: the provider may bill it all the same
                        cut = _abandoned_attempt(model, spec, prompt_tokens, exc, started, purpose)
                        ledger.attempts.append(cut)
                        record_attempt(span, cut)
                        _log_attempt(ledger, level="info")
                        cost_usd = cut.cost_usd
                    await self._settle(reservation, cost_usd)
                    raise
                breaker.record_success()
                ledger.attempts.append(_ok_attempt(model, spec, completion, started, purpose))
                record_attempt(span, ledger.attempts[-1])
        _log_attempt(ledger, level="debug")
        await self._settle(reservation, ledger.attempts[-1].cost_usd)
        return completion

    def _default_queue_s(self, request: LLMRequest) -> float | None:
        """The wait for a slot of a model with no `queue_s`: bounded for realtime calls."""
        if request.priority is Priority.BATCH:
            return None
        return self.config.defaults.realtime_queue_s

    def _check_expiry(self, ledger: CallLedger, breaker: Breaker | None = None) -> None:
        """Raise RequestExpired, making no call, when the request is past its deadline or
        its task's max age: checked before a call asks for its slot and again once it has
        it (it may have queued long). With `breaker`, the call taken is given back and a
        half-open probe slot freed, the breaker neither healthier nor sicker."""
        request = ledger.request
        task = self.config.tasks.get(request.task)
        if task is None or not ledger.expires_at_call_time():
            return
        reason = expiry_reason(request, task, utc_now())
        if reason is None:
            return
        exc = RequestExpired(reason)
        if breaker is not None:
            ledger.give_back_call()
            breaker.record_failure(exc)
        raise exc

    async def _check_budget(self, ledger: CallLedger, breaker: Breaker) -> None:
        """Raise BudgetSpent, making no call, when the task's daily budget was spent while
        this call waited: the route was selected before the wait, and calls queued on a
        limited model would otherwise all spend past the budget once let through."""
        name = ledger.request.task
        await self.budget.refresh(name)
        today = self.budget.snapshot()
        if budget_spent(self.config.tasks[name], name, today):
            ledger.give_back_call()
            exc = BudgetSpent(name, today.spent(name))
            breaker.record_failure(exc)  # neither healthier nor sicker; frees a probe slot
            raise exc

    async def _settle(self, reservation: Reservation | None, cost_usd: Decimal) -> None:
        if reservation is not None:
            await self.budget.settle(reservation, cost_usd)

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


def _log_attempt(ledger: CallLedger, *, level: str) -> None:
    if level == "debug" and not _debug_enabled():  # every answered call: skip the fields
        return
    attempt = ledger.attempts[-1]
    getattr(log, level)(
        "attempt",
        request_id=ledger.request.request_id,
        task=ledger.request.task,
        attempt=len(ledger.attempts) - 1,
        purpose=attempt.purpose,
        model=attempt.model,
        outcome=attempt.outcome.value,
        latency_ms=round(attempt.latency_ms, 1),
        cost_usd=format(attempt.cost_usd.normalize(), "f"),
        error=attempt.error,
    )


def _debug_enabled() -> bool:
    enabled = getattr(log, "is_enabled_for", None)  # structlog's filtering loggers have it
    return True if enabled is None else bool(enabled(logging.DEBUG))


def _likely_cache_read_tokens(spec: ModelSpec, prompt: RenderedPrompt, prompt_tokens: int) -> int:
    """Prompt tokens a provider's prompt cache will likely serve: the prompt's static prefix,
    when the provider caches it (OpenAI by itself, Anthropic at the breakpoint placed for
    it) and it is long enough to be cached."""
    if spec.provider in (Provider.OPENAI, Provider.AZURE_OPENAI):
        minimum = OPENAI_MIN_CACHED_TOKENS
    elif spec.provider is Provider.ANTHROPIC and prompt.cache_ttl is not None:
        minimum = anthropic_min_cacheable_tokens(spec.model_id)
    else:
        return 0
    static = estimate_tokens((prompt.system or "") + prompt.user[: prompt.static_chars])
    return min(static, prompt_tokens) if static >= minimum else 0


def _ok_attempt(
    model: str, spec: ModelSpec, completion: Completion, started: float, purpose: Purpose
) -> Attempt:
    """An answered call, priced class by class from the usage the provider reported."""
    cost_usd, price_source = price_call(
        spec,
        UsageClasses(
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cache_read_tokens=completion.cache_read_tokens,
            cache_write_tokens=completion.cache_write_tokens,
            cache_write_1h_tokens=completion.cache_write_1h_tokens,
            reasoning_tokens=completion.reasoning_tokens,
        ),
    )
    return Attempt(
        model=model,
        provider=spec.provider.value,
        model_version=completion.model_version,
        purpose=purpose,
        outcome=AttemptOutcome.OK,
        latency_ms=(time.monotonic() - started) * 1000,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cache_read_tokens=completion.cache_read_tokens,
        cache_write_tokens=completion.cache_write_tokens,
        reasoning_tokens=completion.reasoning_tokens,
        cost_usd=cost_usd,
        price_source=price_source,
    )


def _abandoned_attempt(
    model: str,
    spec: ModelSpec,
    prompt_tokens: int,
    exc: BaseException,
    started: float,
    purpose: Purpose,
) -> Attempt:
    """A call cut off in flight (cancelled, or an error that is no provider's answer): the
    provider reported nothing, so it is accounted at the prompt's estimated input tokens
    and no output tokens, priced as such."""
    cost_usd, price_source = price_call(spec, UsageClasses(prompt_tokens, 0))
    return Attempt(
        model=model,
        provider=spec.provider.value,
        model_version=spec.model_id,
        purpose=purpose,
        outcome=AttemptOutcome.ABANDONED,
        latency_ms=(time.monotonic() - started) * 1000,
        input_tokens=prompt_tokens,
        output_tokens=0,
        cost_usd=cost_usd,
        price_source=price_source,
        error=f"abandoned in flight ({type(exc).__name__})",
    )


def _failed_attempt(
    model: str, spec: ModelSpec, exc: ProviderError, started: float, purpose: Purpose
) -> Attempt:
    return Attempt(
        model=model,
        provider=spec.provider.value,
        model_version=spec.model_id,
        purpose=purpose,
        outcome=AttemptOutcome(exc.outcome),
        latency_ms=(time.monotonic() - started) * 1000,
        error=str(exc),
    )

"""The router end to end over real HTTP: strategies, faults, retries, fallbacks, costs, cache."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import structlog

from llmrouter.core.errors import (
    AllModelsFailed,
    AuthenticationFailed,
    CallBudgetExhausted,
    ContextLengthExceeded,
    ModelCoolingDown,
    ProviderUnavailable,
)
from llmrouter.router.budget import BudgetTracker
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.router.pricing import UsageClasses, price_call
from llmrouter.router.providers.usage import estimate_tokens
from llmrouter.schemas import (
    AttemptOutcome,
    Complexity,
    LLMRequest,
    LLMResult,
    ResultStatus,
    encode,
    token_cost_usd,
)
from tests.factories import catalog, routing_config, static_route
from tests.router.conftest import MakeRouter

Stats = Callable[[], Awaitable[dict[str, Any]]]

#: the prompt template language writes a literal brace twice
_MOD_TEMPLATE = (
    'Reply with JSON only: {{"label": "safe" or "unsafe", "confidence": 0.0-1.0}} Content: {input}'
)


def config(
    *,
    max_calls: int = 8,
    failures: int = 50,
    cache: bool = False,
    timeout_s: float = 5,
    scorer: str = "tests.router.scorers:unsure_marker",
) -> str:
    models = catalog(
        "cheap",
        "mid",
        "big",
        cheap={"timeout_s": timeout_s, "context_window_tokens": 200000},
        mid={"context_window_tokens": 16385},
        big={"context_window_tokens": 128000, "timeout_s": timeout_s},
    )
    models["small-window"] = {
        "provider": "openai-compatible",
        "model_id": "meta-llama/Meta-Llama-3-70B-Instruct",
        "input_usd_per_1k": 0.0002,
        "output_usd_per_1k": 0.0002,
        "context_window_tokens": 600,
    }
    retry = {"rate_limited": 2, "timeout": 1, "server_error": 2, "malformed": 1}
    return routing_config(
        defaults={
            "max_calls_per_request": max_calls,
            "max_output_tokens": 100,
            "retry": {**retry, "base_delay_s": 0.01, "max_delay_s": 0.05},
            "cooldown": {"failures": failures, "cooldown_s": 30, "max_wait_s": 0},
            "cache": {"enabled": cache},
        },
        models=models,
        tasks={
            "qa": static_route("cheap", "mid", "big"),
            "long": static_route("small-window", "mid", "big"),
            "mod": {
                "prompt": {"response_format": "json", "template": _MOD_TEMPLATE},
                "route": {
                    "strategy": "cascade",
                    "scorer": scorer,
                    "steps": [{"model": "cheap", "min_confidence": 0.9}, {"model": "big"}],
                },
            },
        },
    )


def req(text: str, task: str = "qa", **kw: Any) -> LLMRequest:
    return LLMRequest.model_validate(
        {"request_id": f"r-{abs(hash(text))}", "task": task, "input": text, **kw}
    )


class RecordingSleep:
    """Records the delays the router asks for, then yields without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        await asyncio.sleep(0)


def outcomes(result: LLMResult) -> list[tuple[str, str]]:
    return [(a.model, a.outcome.value) for a in result.attempts]


# -- the shipped example, every task ---------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "text"),
    [
        ("customer-support-qa", "How do I reset my password?"),
        ("product-description", "Trail running shoe, waterproof, 280 g, for runners on wet trails"),
        ("email-summarization", "From: Ana\nSubject: invoice\nPlease pay invoice 42 by Friday."),
        ("sentiment-classification", "I love the new dashboard!"),
        ("moderation", "Thanks for the helpful answer."),
        ("legal-document-analysis", "Clause 9: this agreement renews automatically. Can we exit?"),
    ],
)
async def test_every_example_task_is_answered(
    make_router: MakeRouter, task: str, text: str
) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    result = (await router.route(req(text, task))).result
    assert result.status is ResultStatus.OK
    assert result.output
    assert result.model in router.config.models
    assert result.attempts
    for attempt in result.attempts:
        spec = router.config.models[attempt.model]
        usage = UsageClasses(
            attempt.input_tokens,
            attempt.output_tokens,
            attempt.cache_read_tokens,
            attempt.cache_write_tokens,
            reasoning_tokens=attempt.reasoning_tokens,
        )
        assert attempt.cost_usd == price_call(spec, usage)[0]  # class by class
    assert result.cost_usd == sum((a.cost_usd for a in result.attempts), Decimal(0))
    assert result.cost_usd > 0


async def test_complexity_route_uses_the_llm_classifier_and_bills_it(
    make_router: MakeRouter,
) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    simple = (await router.route(req("How do I reset my password?", "customer-support-qa"))).result
    assert simple.complexity is Complexity.SIMPLE
    assert simple.model == "claude-3-haiku"
    classify = [a for a in simple.attempts if a.purpose == "classify"]
    assert len(classify) == 1
    assert classify[0].model == "claude-3-haiku"
    assert classify[0].cost_usd > 0
    hard = (
        await router.route(
            req(
                "I was charged twice for order 1182 and my account is now suspended. Is that "
                "allowed under your refund policy? Also, who do I contact about a dispute?",
                "customer-support-qa",
            )
        )
    ).result
    assert hard.complexity is Complexity.COMPLEX
    assert hard.model == "gpt-4-turbo"


async def test_llm_classifier_failure_falls_back_to_rules(make_router: MakeRouter) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    result = (
        await router.route(
            req(
                "[[sim:fault=500*1@claude-3-haiku]]How do I reset my password?",
                "customer-support-qa",
            )
        )
    ).result
    assert result.status is ResultStatus.OK
    assert result.complexity is Complexity.SIMPLE  # from the rules
    assert [a.outcome for a in result.attempts if a.purpose == "classify"] == [
        AttemptOutcome.SERVER_ERROR
    ]


# -- cascade ---------------------------------------------------------------------------------


async def test_cascade_stops_at_a_confident_cheap_answer(make_router: MakeRouter) -> None:
    router = await make_router(config())
    result = (await router.route(req("great post, thanks", "mod"))).result
    assert outcomes(result) == [("cheap", "ok")]
    assert not result.escalated
    assert result.confidence == pytest.approx(0.97)


async def test_cascade_escalates_an_unsure_answer(make_router: MakeRouter) -> None:
    router = await make_router(config())
    result = (await router.route(req("unsure about this one", "mod"))).result
    assert outcomes(result) == [("cheap", "low_confidence"), ("big", "ok")]
    assert result.escalated
    assert result.model == "big"
    assert result.cost_usd == result.attempts[0].cost_usd + result.attempts[1].cost_usd


async def test_cascade_reads_confidence_from_the_json_answer(make_router: MakeRouter) -> None:
    from llmrouter.router.scoring import parse_json_answer

    router = await make_router(config(scorer="json_confidence"))
    result = (
        await router.route(req("you are all idiots and I will find where you live", "mod"))
    ).result
    first = result.attempts[0]
    parsed = parse_json_answer(result.output or "")
    assert parsed is not None
    assert result.confidence == pytest.approx(float(parsed["confidence"]))
    if first.outcome is AttemptOutcome.LOW_CONFIDENCE:
        assert first.confidence is not None
        assert first.confidence < 0.9
        assert result.escalated
    else:
        assert first.confidence is not None
        assert first.confidence >= 0.9


# -- faults through the real SDKs --------------------------------------------------------------


async def test_rate_limit_is_retried_after_retry_after(
    make_router: MakeRouter, sim_stats: Stats
) -> None:
    sleep = RecordingSleep()
    router = await make_router(config(), sleep=sleep)
    result = (await router.route(req("hello [[sim:fault=429*1]][[sim:retry_after=1]]"))).result
    assert outcomes(result) == [("cheap", "rate_limited"), ("cheap", "ok")]
    assert sleep.delays
    assert sleep.delays[0] >= 1.0
    assert not result.fallback_used
    assert (await sim_stats())["requests"] == 2


@pytest.mark.parametrize(
    ("fault", "outcome", "calls_to_cheap"),
    [
        ("500", "server_error", 3),  # 1 + 2 retries, then the fallback
        ("529", "server_error", 3),
        ("malformed", "malformed", 2),  # 1 + 1 retry
        ("auth", "auth_error", 1),  # never retried
        ("content_policy", "content_policy", 1),
    ],
)
async def test_each_fault_is_retried_by_policy_then_falls_back(
    make_router: MakeRouter, sim_stats: Stats, fault: str, outcome: str, calls_to_cheap: int
) -> None:
    router = await make_router(config())
    result = (await router.route(req(f"hi [[sim:fault={fault}@claude]]"))).result
    assert outcomes(result) == [("cheap", outcome)] * calls_to_cheap + [("mid", "ok")]
    assert result.fallback_used
    assert result.status is ResultStatus.OK
    assert (await sim_stats())["requests"] == calls_to_cheap + 1  # no hidden SDK retries


async def test_a_hung_provider_times_out(make_router: MakeRouter) -> None:
    router = await make_router(config(timeout_s=0.3))
    result = (await router.route(req("slow [[sim:fault=hang@claude]]"))).result
    assert outcomes(result) == [("cheap", "timeout"), ("cheap", "timeout"), ("mid", "ok")]
    assert all(a.latency_ms >= 250 for a in result.attempts[:2])


async def test_context_length_goes_straight_to_a_larger_window(
    make_router: MakeRouter, sim_stats: Stats
) -> None:
    router = await make_router(config())
    long_text = "word " * 800  # ~1000 tokens: over small-window's 600
    result = (await router.route(req(long_text, "long"))).result
    assert result.model == "mid"
    assert result.fallback_used
    # the window check happens before any call: no attempt, no cost, no upstream request
    assert outcomes(result) == [("mid", "ok")]
    assert (await sim_stats())["requests"] == 1
    # a provider-side context-length error is recognised, not retried, and skips every
    # model whose window is no larger
    result = (await router.route(req("short [[sim:fault=context_length@Llama]]", "long"))).result
    assert outcomes(result) == [("small-window", "context_length"), ("mid", "ok")]
    failed = await router.route(req("short [[sim:fault=context_length@claude]]"))
    assert outcomes(failed.result) == [("cheap", "context_length")]
    assert failed.failure is not None
    assert isinstance(failed.failure.exceptions[0], ContextLengthExceeded)


async def test_everything_failing_returns_the_failed_result_with_every_error(
    make_router: MakeRouter,
) -> None:
    router = await make_router(config(max_calls=20))
    routed = await router.route(req("doomed [[sim:fault=500]]"))  # returned, not raised
    failure = routed.failure
    assert isinstance(failure, AllModelsFailed)
    assert all(isinstance(e, ProviderUnavailable) for e in failure.exceptions)
    assert len(failure.exceptions) == 9  # three models × (1 call + 2 retries)
    result = routed.result
    assert isinstance(result, LLMResult)
    assert result.status is ResultStatus.FAILED
    assert len(result.attempts) == 9
    assert result.error
    assert "500" in result.error


async def test_upstream_calls_never_exceed_the_bound(
    make_router: MakeRouter, sim_stats: Stats
) -> None:
    router = await make_router(config(max_calls=4))
    routed = await router.route(req("doomed [[sim:fault=500]]"))
    assert routed.failure is not None
    assert isinstance(routed.failure.exceptions[-1], CallBudgetExhausted)
    assert len(routed.result.attempts) == 4
    assert (await sim_stats())["requests"] == 4


async def test_cooldown_opens_and_skips_the_model(
    make_router: MakeRouter, sim_stats: Stats
) -> None:
    router = await make_router(config(failures=3))
    first = (await router.route(req("a [[sim:fault=500@claude]]"))).result
    assert [a.outcome for a in first.attempts if a.model == "cheap"] == [
        AttemptOutcome.SERVER_ERROR
    ] * 3
    # the breaker is open now: the next request skips cheap without calling it
    second = (await router.route(req("b fine"))).result
    assert outcomes(second) == [("mid", "ok")]
    assert (await sim_stats())["models"].get("claude-3-haiku-20240307", {}).get("ok", 0) == 0
    breaker = router.caller.breakers["cheap"]
    with pytest.raises(ModelCoolingDown):
        await breaker.admit()


async def test_budget_downgrade_is_reported(make_router: MakeRouter) -> None:
    tracker = BudgetTracker()
    cfg = load_config(EXAMPLE_CONFIG)
    tracker.seed("customer-support-qa", Decimal("150"))
    router = await make_router(cfg, budget=tracker)
    result = (
        await router.route(
            req("How do I reset my password?", "customer-support-qa", user_tier="enterprise")
        )
    ).result
    assert result.budget_exceeded
    assert result.model == "claude-3-haiku"
    assert result.route == "static (budget)"


QUEUED_FOR_BUDGET = routing_config(
    defaults={"cache": {"enabled": False}, "max_output_tokens": 100},
    models=catalog("cheap", "big", big={"max_concurrency": 1}),
    tasks={"qa": static_route("big", budget={"daily_usd": 0.005, "downgrade_to": "cheap"})},
)


async def test_calls_queued_for_a_slot_check_the_budget_again(make_router: MakeRouter) -> None:
    # Twenty requests decide on `big` while the budget is far from spent, then queue for its
    # one slot. Each checks the day's spend again once through: the spend on `big` passes
    # the budget by at most the one call in flight, the rest are downgraded without a call.
    router = await make_router(QUEUED_FOR_BUDGET)
    routed = await asyncio.gather(*(router.route(req(f"question {i}")) for i in range(20)))
    results = [r.result for r in routed]
    on_budget = [r for r in results if not r.budget_exceeded]
    assert all(outcomes(r) == [("big", "ok")] for r in on_budget)
    worst_usd = token_cost_usd(
        estimate_tokens("question 19"), 100, Decimal("0.01"), Decimal("0.03")
    )
    assert sum(r.cost_usd for r in on_budget) <= Decimal("0.005") + worst_usd
    downgraded = [r for r in results if r.budget_exceeded]
    assert downgraded
    assert all(outcomes(r) == [("cheap", "ok")] for r in downgraded)
    assert all(r.route == "static (budget)" for r in downgraded)


# -- cache -----------------------------------------------------------------------------------


async def test_cache_hit_costs_nothing_and_calls_nobody(
    make_router: MakeRouter, sim_stats: Stats
) -> None:
    router = await make_router(config(cache=True))
    first = (await router.route(req("How do I change my email address?"))).result
    second = (await router.route(req("  how do I change my EMAIL address?  "))).result
    assert not first.cached
    assert second.cached
    assert second.output == first.output
    assert outcomes(second) == [("cheap", "cache_hit")]
    assert second.cost_usd == 0
    assert (await sim_stats())["requests"] == 1


async def test_failures_are_not_cached(make_router: MakeRouter, sim_stats: Stats) -> None:
    router = await make_router(config(cache=True, max_calls=1))
    failed = await router.route(req("flaky [[sim:fault=500*1]]"))
    assert failed.failure is not None
    again = (await router.route(req("flaky [[sim:fault=500*1]]"))).result
    assert not again.cached
    assert again.status is ResultStatus.OK


# -- the headline resilience check -------------------------------------------------------------


async def test_200_concurrent_requests_survive_30_percent_primary_failures(
    make_router: MakeRouter, sim_url: str
) -> None:
    """Primary fails 30% of calls (15% 429 with Retry-After: 1, 15% 500): all succeed,
    and no request makes more upstream calls than the configured bound."""
    from llmrouter.router.config_loader import parse_config
    from llmrouter.router.providers.pool import ProviderPool
    from llmrouter.simulator import ModelProfile, SimConfig, running

    sim = SimConfig(
        latency_ms=0,
        seed=11,
        models={
            "claude-3-haiku-20240307": ModelProfile(rate_429=0.15, rate_500=0.15, retry_after_s=1)
        },
    )
    cfg = parse_config(config(max_calls=5))
    async with running(sim) as url:
        from llmrouter.router import RoutingEngine

        router = RoutingEngine(cfg, pool=ProviderPool(cfg.models, simulator_url=url))
        try:
            routed = await asyncio.gather(*(router.route(req(f"question {i}")) for i in range(200)))
        finally:
            await router.aclose()
    results = [r.result for r in routed]
    assert all(r.status is ResultStatus.OK for r in results)
    assert max(len(r.attempts) for r in results) <= 5
    failed_first = [r for r in results if r.attempts[0].outcome is not AttemptOutcome.OK]
    assert 30 <= len(failed_first) <= 90  # the faults really happened
    assert {a.outcome for r in failed_first for a in r.attempts} >= {
        AttemptOutcome.RATE_LIMITED,
        AttemptOutcome.SERVER_ERROR,
    }


# -- secrets ---------------------------------------------------------------------------------


async def test_no_api_key_in_results_logs_or_errors(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-ant-api03-THIS-IS-A-SECRET-KEY-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-ANOTHER-SECRET-0123456789")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory())
    router = await make_router(config(max_calls=3))
    routed = await router.route(req("x [[sim:fault=auth]]"))
    assert routed.failure is not None
    texts = [encode(routed.result).decode(), str(routed.failure)]
    texts += [str(e) for e in routed.failure.exceptions]
    texts.append(capsys.readouterr().err + capsys.readouterr().out)
    assert any(isinstance(e, AuthenticationFailed) for e in routed.failure.exceptions)
    for text in texts:
        assert secret not in text
        assert "ANOTHER-SECRET" not in text
    structlog.reset_defaults()

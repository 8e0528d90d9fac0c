"""Every answered call is priced from the token classes its provider reported, with prices
from genai-prices when the config names none: the same figure genai-prices' own calculator
gives for that usage, to the micro-dollar. Real SDKs over HTTP to the simulator, whose
OpenAI prompt cache reports cached tokens from the second request on."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from llmrouter.router.budget import BudgetTracker, Reservation, to_micro_usd
from llmrouter.router.config_loader import parse_config
from llmrouter.router.pricing import PriceClass, price_table
from llmrouter.schemas import Attempt, LLMRequest, ResultStatus
from llmrouter.workers.outputs import cost_events
from tests.factories import CATALOG, routing_config, static_route
from tests.router.conftest import MakeRouter

#: about 3,000 tokens of static context in front of each question: past the 1,024-token
#: minimum of OpenAI's automatic prefix cache
KNOWLEDGE = " ".join(
    f"Policy {i}: refunds are due within thirty days of delivery." for i in range(300)
)
QUESTIONS = ("What is the refund window?", "Who pays return shipping?", "Can I get store credit?")


def _unpriced(name: str) -> dict[str, str]:
    """A catalog model with no prices in the config: genai-prices prices it."""
    spec = CATALOG[name]
    return {"provider": spec["provider"], "model_id": spec["model_id"]}


def _library_micro_usd(attempt: Attempt, provider_id: str, model_id: str) -> int:
    usage = genai_prices.Usage(
        input_tokens=attempt.input_tokens,
        cache_read_tokens=attempt.cache_read_tokens,
        cache_write_tokens=attempt.cache_write_tokens,
        output_tokens=attempt.output_tokens,
    )
    priced = genai_prices.calc_price(usage, model_id, provider_id=provider_id)
    return to_micro_usd(Decimal(priced.total_price))


async def test_unpriced_models_cost_what_genai_prices_says_for_the_reported_classes(
    make_router: MakeRouter,
) -> None:
    config = parse_config(
        routing_config(
            models={"nano": _unpriced("nano"), "cheap": _unpriced("cheap")},
            defaults={"cache": {"enabled": False}},
            tasks={
                "support-openai": static_route("nano"),
                "support-anthropic": static_route("cheap"),
            },
        )
    )
    router = await make_router(config)
    for task, name in (("support-openai", "nano"), ("support-anthropic", "cheap")):
        spec = CATALOG[name]
        attempts: list[Attempt] = []
        for number, question in enumerate(QUESTIONS):
            request = LLMRequest(
                request_id=f"{task}-{number}",
                task=task,
                input=f"{KNOWLEDGE}\n\nQuestion: {question}",
            )
            routed = await router.route(request)
            assert routed.result.status is ResultStatus.OK, routed.failure
            (attempt,) = routed.result.attempts
            attempts.append(attempt)
            # the cost event published for the call carries the same classes and cost
            (event,) = cost_events(routed.result)
            assert (event.cost_usd, event.price_source) == (attempt.cost_usd, attempt.price_source)
            assert (event.cache_read_tokens, event.cache_write_tokens) == (
                attempt.cache_read_tokens,
                attempt.cache_write_tokens,
            )
        for attempt in attempts:
            assert attempt.input_tokens > 1024
            assert attempt.price_source is not None
            assert attempt.price_source.startswith("genai-prices")
            assert to_micro_usd(attempt.cost_usd) == _library_micro_usd(
                attempt, spec["provider"], spec["model_id"]
            )
        if spec["provider"] == "openai":
            # the first request fills the prefix cache; the others read it, and pay less
            assert attempts[0].cache_read_tokens == 0
            assert all(a.cache_read_tokens >= 1024 for a in attempts[1:])
            assert attempts[1].cost_usd < attempts[0].cost_usd


async def test_an_anthropic_prompt_caches_its_static_prefix_on_purpose(
    make_router: MakeRouter,
) -> None:
    prompt = {
        "system": "You are a customer support assistant.",
        "context": {"kb_context": ""},
        "template": "Knowledge base:\n{kb_context}\nQuestion: {question}\nAnswer briefly.",
    }
    config = parse_config(
        routing_config(
            models={"cheap": _unpriced("cheap")},
            defaults={"cache": {"enabled": False}},
            tasks={
                "support": static_route("cheap", prompt=prompt),
                "support-uncached": static_route("cheap", prompt={**prompt, "cache": "off"}),
            },
        )
    )
    router = await make_router(config)
    spec = CATALOG["cheap"]
    by_task: dict[str, list[Attempt]] = {}
    for task in ("support", "support-uncached"):
        for number, question in enumerate(QUESTIONS):
            request = LLMRequest(
                request_id=f"{task}-{number}",
                task=task,
                input=question,
                context={"kb_context": f"{task}: {KNOWLEDGE}"},
            )
            routed = await router.route(request)
            assert routed.result.status is ResultStatus.OK, routed.failure
            by_task.setdefault(task, []).extend(routed.result.attempts)
    cached, uncached = by_task["support"], by_task["support-uncached"]
    # the knowledge base (past Haiku's 2,048-token minimum) is written once, then read
    assert cached[0].cache_write_tokens >= 2048
    assert cached[0].cache_read_tokens == 0
    assert all(a.cache_read_tokens == cached[0].cache_write_tokens for a in cached[1:])
    # with caching off, no breakpoint: every request pays the whole prompt at input price
    assert all(a.cache_read_tokens == a.cache_write_tokens == 0 for a in uncached)
    for attempt in cached + uncached:
        assert to_micro_usd(attempt.cost_usd) == _library_micro_usd(
            attempt, spec["provider"], spec["model_id"]
        )
    assert sum(a.cost_usd for a in cached) < sum(a.cost_usd for a in uncached)


async def test_a_budget_reserves_a_likely_cache_hit_at_the_read_price(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    reserved: list[Decimal] = []
    reserve = BudgetTracker.reserve

    async def spy(self: BudgetTracker, task: str, worst_case_usd: Decimal) -> Reservation:
        reserved.append(worst_case_usd)
        return await reserve(self, task, worst_case_usd)

    monkeypatch.setattr(BudgetTracker, "reserve", spy)
    prompt = {"context": {"kb_context": ""}, "template": "KB:\n{kb_context}\nQ: {question}"}
    config = parse_config(
        routing_config(
            models={"nano": _unpriced("nano")},
            defaults={"cache": {"enabled": False}},
            tasks={
                "kb": static_route(
                    "nano", prompt=prompt, budget={"daily_usd": 100, "downgrade_to": "nano"}
                )
            },
        )
    )
    router = await make_router(config)
    for number, (kb, question) in enumerate(((KNOWLEDGE, "Refunds?"), ("short", "Refunds?"))):
        request = LLMRequest(
            request_id=f"kb-{number}", task="kb", input=question, context={"kb_context": kb}
        )
        routed = await router.route(request)
        assert routed.result.status is ResultStatus.OK, routed.failure
    long_reserved, short_reserved = reserved
    table = price_table(config.models["nano"])
    assert table[PriceClass.CACHE_READ] < table[PriceClass.INPUT]
    # what the knowledge base adds to the reservation: its tokens at the cache-read price
    # (OpenAI caches a prefix this long by itself), not at the plain input price
    kb_tokens = Decimal(len(KNOWLEDGE) // 4)
    added = long_reserved - short_reserved
    assert kb_tokens * table[PriceClass.CACHE_READ] / 10**6 * Decimal("0.9") < added
    assert added < kb_tokens * table[PriceClass.INPUT] / 10**6 * Decimal("0.9")

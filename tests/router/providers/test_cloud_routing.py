"""Requests routed to each new provider (Gemini, Gemini on Vertex AI, Anthropic on Bedrock
and on Vertex AI, Bedrock Converse) through the real SDKs over HTTP to the simulator: each
answers, and each call is priced by the token classes its provider reported (cache reads
and writes, thinking), to the micro-dollar genai-prices gives for that usage, on the
attempt and on the cost event alike."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from llmrouter.router.budget import to_micro_usd
from llmrouter.schemas import Attempt, AttemptOutcome, LLMRequest, ResultStatus
from llmrouter.workers.outputs import cost_events
from tests.factories import routing_config, static_route
from tests.router.conftest import MakeRouter
from tests.router.providers.cloud import CLOUD_MODELS, LIBRARY_PROVIDER

#: about 4,000 tokens of static policy before each question: past every provider's minimum
#: for a cached prefix (1,024 tokens; 2,048 for Claude Haiku)
POLICY = " ".join(
    f"Policy {i}: refunds are due within thirty days of delivery." for i in range(300)
)
TEMPLATE = POLICY + "\n\nQuestion: {input}"


def _library_micro_usd(attempt: Attempt, provider: str, model_id: str) -> int:
    usage = genai_prices.Usage(
        input_tokens=attempt.input_tokens,
        cache_read_tokens=attempt.cache_read_tokens,
        cache_write_tokens=attempt.cache_write_tokens,
        output_tokens=attempt.output_tokens,
    )
    priced = genai_prices.calc_price(usage, model_id, provider_id=LIBRARY_PROVIDER[provider])
    return to_micro_usd(Decimal(priced.total_price))


@pytest.mark.parametrize("name", sorted(CLOUD_MODELS))
async def test_each_provider_answers_and_is_priced_by_class(
    make_router: MakeRouter, name: str
) -> None:
    spec = CLOUD_MODELS[name]
    router = await make_router(
        routing_config(
            models={name: spec},
            defaults={"cache": {"enabled": False}},
            tasks={"support": static_route(name, prompt={"template": TEMPLATE})},
        )
    )
    attempts: list[Attempt] = []
    for number, question in enumerate(("What is the refund window?", "Who pays shipping?")):
        request = LLMRequest(request_id=f"{name}-{number}", task="support", input=question)
        routed = await router.route(request)
        assert routed.result.status is ResultStatus.OK, routed.failure
        assert routed.result.provider == spec["provider"]
        assert routed.result.output
        (attempt,) = routed.result.attempts
        (event,) = cost_events(routed.result)
        assert (event.cost_usd, event.provider) == (attempt.cost_usd, spec["provider"])
        assert (event.cache_read_tokens, event.cache_write_tokens, event.reasoning_tokens) == (
            attempt.cache_read_tokens,
            attempt.cache_write_tokens,
            attempt.reasoning_tokens,
        )
        assert (attempt.price_source or "").startswith("genai-prices")
        assert to_micro_usd(attempt.cost_usd) == _library_micro_usd(
            attempt, spec["provider"], spec["model_id"]
        )
        attempts.append(attempt)
    first, second = attempts
    # the second request reads the static prefix from the provider's prompt cache
    assert second.cache_read_tokens > 1000
    assert second.cost_usd < first.cost_usd
    if spec["provider"] in ("bedrock-anthropic", "vertex-anthropic", "bedrock"):
        assert first.cache_write_tokens == second.cache_read_tokens  # written, then read
    if spec["model_id"].startswith("gemini-2.5"):  # a thinking model: reasoning is output
        assert 0 < first.reasoning_tokens < first.output_tokens


@pytest.mark.parametrize("name", ["gemini-flash", "nova-lite", "vertex-haiku"])
async def test_a_refused_prompt_is_a_content_policy_failure(
    make_router: MakeRouter, name: str
) -> None:
    router = await make_router(
        routing_config(
            models={name: CLOUD_MODELS[name]},
            defaults={"cache": {"enabled": False}},
            tasks={"support": static_route(name)},
        )
    )
    routed = await router.route(
        LLMRequest(request_id="refused", task="support", input="[[sim:fault=content_policy]] x")
    )
    assert routed.result.status is ResultStatus.FAILED
    assert [a.outcome for a in routed.result.attempts] == [AttemptOutcome.CONTENT_POLICY]

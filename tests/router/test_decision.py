"""The route decision: a pure function of (config, request, complexity, budget state)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmrouter.router.budget import BudgetTracker
from llmrouter.router.classifiers import RuleClassifier, parse_complexity
from llmrouter.router.config import RulesClassifierSpec
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.router.decision import Step, decide
from llmrouter.schemas import Complexity, LLMRequest, Priority, UserTier

CONFIG = load_config(EXAMPLE_CONFIG)
NO_SPEND = BudgetTracker().snapshot()


def _request(task: str, **kw: object) -> LLMRequest:
    return LLMRequest.model_validate({"request_id": "r", "task": task, "input": "hi", **kw})


@pytest.mark.parametrize(
    ("complexity", "model"),
    [
        (Complexity.SIMPLE, "claude-3-haiku"),
        (Complexity.MEDIUM, "claude-3-sonnet"),
        (Complexity.COMPLEX, "gpt-4-turbo"),
    ],
)
def test_complexity_route_picks_a_model_per_level(complexity: Complexity, model: str) -> None:
    decision = decide(CONFIG, _request("customer-support-qa"), complexity, NO_SPEND)
    assert decision.steps == (Step(model),)
    assert decision.strategy == f"complexity:{complexity.value}"
    assert model not in decision.fallbacks


def test_complexity_route_without_complexity_takes_medium() -> None:
    decision = decide(CONFIG, _request("customer-support-qa"), None, NO_SPEND)
    assert decision.steps == (Step("claude-3-sonnet"),)


def test_static_route_with_fallback() -> None:
    decision = decide(CONFIG, _request("email-summarization"), None, NO_SPEND)
    assert decision.steps == (Step("claude-3-haiku"),)
    assert decision.fallbacks == ("gpt-3.5-turbo",)


def test_cascade_steps_keep_thresholds_but_the_last_accepts_anything() -> None:
    decision = decide(CONFIG, _request("moderation"), None, NO_SPEND)
    assert decision.steps == (Step("claude-3-haiku", 0.9), Step("gpt-4-turbo", None))
    assert decision.fallbacks == ("claude-3-opus",)


@pytest.mark.parametrize(
    ("tier", "model"),
    [(UserTier.FREE, "claude-3-haiku"), (UserTier.ENTERPRISE, "gpt-4-turbo")],
)
def test_tier_overrides(tier: UserTier, model: str) -> None:
    decision = decide(
        CONFIG, _request("customer-support-qa", user_tier=tier), Complexity.MEDIUM, NO_SPEND
    )
    assert decision.steps == (Step(model),)
    assert decision.source == f"tier:{tier.value}"


def test_paid_tier_without_override_takes_the_default_route() -> None:
    decision = decide(
        CONFIG,
        _request("customer-support-qa", user_tier=UserTier.PAID),
        Complexity.COMPLEX,
        NO_SPEND,
    )
    assert decision.steps == (Step("gpt-4-turbo"),)
    assert decision.source == "default"


def test_batch_priority_takes_the_cheaper_route() -> None:
    decision = decide(
        CONFIG, _request("product-description", priority=Priority.BATCH), None, NO_SPEND
    )
    assert decision.steps == (Step("llama-3-70b"),)
    assert decision.source == "batch"
    realtime = decide(
        CONFIG, _request("product-description", priority=Priority.REALTIME), None, NO_SPEND
    )
    assert realtime.steps == (Step("gpt-3.5-turbo"),)


def test_spent_budget_downgrades_and_says_so() -> None:
    tracker = BudgetTracker(now=lambda: datetime(2026, 1, 1, 12, tzinfo=UTC))
    tracker.add("customer-support-qa", Decimal("149.99"))
    under = decide(CONFIG, _request("customer-support-qa"), Complexity.COMPLEX, tracker.snapshot())
    assert under.steps == (Step("gpt-4-turbo"),)
    assert not under.budget_exceeded
    tracker.add("customer-support-qa", Decimal("0.01"))
    over = decide(
        CONFIG,
        _request("customer-support-qa", user_tier=UserTier.ENTERPRISE),
        Complexity.COMPLEX,
        tracker.snapshot(),
    )
    assert over.steps == (Step("claude-3-haiku"),)
    assert over.budget_exceeded
    assert over.source == "budget"


def test_decision_is_pure() -> None:
    request = _request("moderation")
    assert decide(CONFIG, request, None, NO_SPEND) == decide(CONFIG, request, None, NO_SPEND)


_rules = CONFIG.classifiers["support-rules"]
assert isinstance(_rules, RulesClassifierSpec)
RULES: RulesClassifierSpec = _rules


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("How do I reset my password?", Complexity.SIMPLE),
        ("I was charged twice for my order, what should I do?", Complexity.MEDIUM),
        (
            "I was charged twice and my account is suspended. Is this against your refund policy?"
            " And also, can I get my data exported?",
            Complexity.COMPLEX,
        ),
    ],
)
def test_rule_classifier_levels(text: str, level: Complexity) -> None:
    verdict = RuleClassifier(RULES).classify(text)
    assert verdict.complexity is level
    assert 0.0 <= verdict.confidence <= 1.0
    assert verdict.classifier == "rules"


@pytest.mark.parametrize(
    ("reply", "level"),
    [
        ("SIMPLE", Complexity.SIMPLE),
        ("Classification: **Medium**.", Complexity.MEDIUM),
        ("complex\n", Complexity.COMPLEX),
        ("I cannot tell", None),
        ("", None),
    ],
)
def test_llm_classifier_reply_is_parsed_tolerantly(reply: str, level: Complexity | None) -> None:
    assert parse_complexity(reply) is level


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("I want a REFUND!", True),
        ("refund", True),
        ("Where are my refunds?", False),  # word boundaries, as the config promises
        ("prerefund", False),
        ("They closed my account yesterday", True),  # a phrase
        ("they closed my accounts", False),
        ("refund_policy", False),
    ],
)
def test_word_rules_match_whole_words_case_insensitively(text: str, fires: bool) -> None:
    spec = RulesClassifierSpec(
        kind="rules",
        medium_at=1.0,
        complex_at=2.0,
        rules=[{"name": "cue", "weight": 1.0, "any_of": ["refund", "closed my account"]}],  # type: ignore[list-item]
    )
    verdict = RuleClassifier(spec).classify(text)
    assert (verdict.complexity is Complexity.MEDIUM) is fires

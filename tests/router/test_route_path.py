"""One pass down a request's path: its route is selected once, a failed request comes back
as a value, and the classifiers sit behind one interface."""

from __future__ import annotations

import asyncio

import pytest

from llmrouter.core.errors import AllModelsFailed, ProviderUnavailable
from llmrouter.router import engine
from llmrouter.router.budget import BudgetState
from llmrouter.router.calls import CallLedger
from llmrouter.router.classifiers import LLMClassifier, RuleClassifier
from llmrouter.router.classifiers.llm import LLM_CONFIDENCE
from llmrouter.router.config import TaskSpec
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.router.decision import SelectedRoute, select_route
from llmrouter.schemas import (
    AttemptOutcome,
    ClassifiedRequest,
    Complexity,
    LLMRequest,
    ResultStatus,
)
from tests.router.conftest import MakeRouter
from tests.router.test_engine import QUEUED_FOR_BUDGET, config, req


class SelectionSpy:
    """Stands in for the engine's `select_route`: records each selection's request id,
    then selects as the real one does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.selected: list[str] = []
        monkeypatch.setattr(engine, "select_route", self)

    def __call__(self, task: TaskSpec, request: LLMRequest, budget: BudgetState) -> SelectedRoute:
        self.selected.append(request.request_id)
        return select_route(task, request, budget)


async def test_one_requests_route_is_selected_exactly_once(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    spy = SelectionSpy(monkeypatch)
    # a complexity route with an LLM classifier: select, classify, plan, walk
    request = req("How do I reset my password?", "customer-support-qa")
    routed = await router.route(request)
    assert routed.result.status is ResultStatus.OK
    assert routed.result.complexity is Complexity.SIMPLE
    assert spy.selected == [request.request_id]


async def test_each_stage_selects_the_route_once(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    spy = SelectionSpy(monkeypatch)
    request = req("How do I reset my password?", "customer-support-qa")
    verdict = await router.classify(request)
    assert verdict is not None
    assert spy.selected == [request.request_id]
    classified = ClassifiedRequest(
        **request.model_dump(exclude={"schema_version"}),
        complexity=verdict.complexity,
        classifier_attempts=verdict.attempts,
    )
    routed = await router.route(classified)
    assert routed.result.complexity is verdict.complexity
    assert spy.selected == [request.request_id] * 2  # once in each stage, not again
    assert [a.purpose for a in routed.result.attempts] == ["classify", "answer"]


async def test_a_downgrade_while_queued_selects_no_second_route(
    make_router: MakeRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = await make_router(QUEUED_FOR_BUDGET)
    spy = SelectionSpy(monkeypatch)
    routed = await asyncio.gather(*(router.route(req(f"queued {i}")) for i in range(12)))
    downgraded = [r.result for r in routed if r.result.budget_exceeded]
    assert downgraded, "the budget was never reached while calls waited"
    assert all(r.route == "static (budget)" for r in downgraded)
    assert sorted(spy.selected) == sorted(r.result.request_id for r in routed)


async def test_a_failed_request_comes_back_as_a_value_with_every_error(
    make_router: MakeRouter,
) -> None:
    router = await make_router(config(max_calls=20))
    routed = await router.route(req("no model answers [[sim:fault=500]]"))
    result, failure = routed.result, routed.failure
    assert result.status is ResultStatus.FAILED
    assert result.output is None
    assert isinstance(failure, AllModelsFailed)
    # every error every model gave, retries included, in call order, as the attempts say
    assert len(failure.exceptions) == len(result.attempts) == 9
    assert all(isinstance(e, ProviderUnavailable) for e in failure.exceptions)
    assert [e.model for e in failure.exceptions if isinstance(e, ProviderUnavailable)] == [
        a.model for a in result.attempts
    ]
    assert all(a.outcome is AttemptOutcome.SERVER_ERROR for a in result.attempts)


async def test_an_answered_request_has_no_failure(make_router: MakeRouter) -> None:
    router = await make_router(config())
    routed = await router.route(req("hello"))
    assert routed.result.status is ResultStatus.OK
    assert routed.failure is None


async def test_the_llm_classifier_books_its_call_and_says_how_sure_it_is(
    make_router: MakeRouter,
) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    classifiers = router._classifiers
    assert isinstance(classifiers["support-rules"], RuleClassifier)
    llm = classifiers["support-llm"]
    assert isinstance(llm, LLMClassifier)
    request = req("How do I reset my password?", "customer-support-qa")
    ledger = CallLedger(request, max_calls=4)
    verdict = await llm.complexity_of(request, ledger)
    assert (verdict.classifier, verdict.confidence) == ("llm", LLM_CONFIDENCE)
    assert [(a.purpose, a.outcome) for a in ledger.attempts] == [("classify", AttemptOutcome.OK)]
    assert ledger.calls == 1


async def test_the_llm_classifier_answers_with_its_rules_when_the_model_fails(
    make_router: MakeRouter,
) -> None:
    router = await make_router(load_config(EXAMPLE_CONFIG))
    request = req("[[sim:fault=500*1@claude-3-haiku]]How do I reset my password?")
    ledger = CallLedger(request, max_calls=4)
    verdict = await router._classifiers["support-llm"].complexity_of(request, ledger)
    assert verdict.classifier == "rules"
    assert [a.outcome for a in ledger.attempts] == [AttemptOutcome.SERVER_ERROR]

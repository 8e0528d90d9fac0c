"""Which score an answer gets when several sources speak of it, and what is left out."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.operations.learn_join import join_outcomes
from llmrouter.operations.learn_traffic import Traffic
from llmrouter.schemas import Attempt, AttemptOutcome, Feedback, LLMRequest, LLMResult, ResultStatus
from llmrouter.schemas.scores import Score

TASK = "moderation"


def _answer(
    rid: str, model: str, label: str, *, shadow: bool = False, ok: bool = True
) -> LLMResult:
    attempt = Attempt(
        model=model, outcome=AttemptOutcome.OK, latency_ms=1.0, cost_usd=Decimal("0.002")
    )
    return LLMResult.model_validate(
        {
            "request_id": rid,
            "task": TASK,
            "status": ResultStatus.OK if ok else ResultStatus.FAILED,
            "output": f'{{"label": "{label}"}}' if ok else None,
            "model": model,
            "attempts": [attempt],
            "cost_usd": Decimal("0.002"),
            **({"source": "shadow"} if shadow else {}),
        }
    )


def _fb(rid: str, **fields: object) -> Feedback:
    kind = next(k for k in ("label", "score", "thumbs", "resolution") if k in fields)
    return Feedback.model_validate({"request_id": rid, "task": TASK, "kind": kind, **fields})


def test_each_answer_gets_the_first_source_that_applies() -> None:
    traffic = Traffic(
        requests=[LLMRequest(request_id=r, task=TASK, input=f"text {r}") for r in "abcdef"],
        answers=[
            _answer("a", "cheap", "spam"),
            _answer("a", "big", "ok", shadow=True),
            _answer("b", "cheap", "spam"),
            _answer("b", "big", "spam", shadow=True),
            _answer("c", "cheap", "spam"),
            _answer("d", "cheap", "spam"),
            _answer("e", "cheap", "spam", ok=False),
            _answer("f", "cheap", "spam"),
        ],
        feedback=[
            _fb("a", label="spam"),  # the truth: scores both answers
            _fb("b", thumbs="down"),  # about the live answer only
            _fb("b", score=0.9, model="big"),  # about the shadow answer
            _fb("c", resolution="refunded"),  # not a score
            _fb("d", score=0.25),
            _fb("f", label="spam", model="cheap"),
        ],
        scores=[
            Score(request_id="c", task=TASK, model="cheap", score=0.5, judge_model="big"),
            Score(request_id="d", task=TASK, model="cheap", score=0.75, judge_model="big"),
        ],
    )
    joined = join_outcomes(traffic)
    got = {(o.prompt_id, o.model): o.score for o in joined.outcomes}
    assert got == {
        ("a", "cheap"): 1.0,
        ("a", "big"): 0.0,
        ("b", "cheap"): 0.0,
        ("b", "big"): 0.9,
        ("c", "cheap"): 0.5,
        ("d", "cheap"): 0.25,
        ("f", "cheap"): 1.0,
    }
    assert joined.counts.failed_answers == 1
    assert joined.counts.resolutions == 1
    assert all(o.cost_usd == 0.002 for o in joined.outcomes)


def test_an_answer_nothing_scores_is_left_out_and_counted() -> None:
    traffic = Traffic(
        requests=[LLMRequest(request_id="a", task=TASK, input="x")],
        answers=[_answer("a", "cheap", "spam"), _answer("zz", "cheap", "spam")],
    )
    joined = join_outcomes(traffic)
    assert joined.outcomes == []
    assert (joined.counts.unscored_answers, joined.counts.unknown_answers) == (1, 1)

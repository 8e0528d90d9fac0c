"""Traffic joined into training outcomes: one line per request × model answer.

Each answered request of the window (its live answer on `llm.results.<task>`, and each
shadow answer of another model on `llm.shadow.<task>`) becomes one outcome line in the
format `llmrouter learn train` reads (evaluation/learn/outcomes.py): `prompt_id` the
request id, `prompt` its input, `model` the answering model, `cost_usd` the answer's cost,
`answer` its text, and `score` the first that applies of:

1. a `label` feedback: 1 when the answer gives that label, else 0 (the truth of the
   request, so it scores every model's answer);
2. the request's own truth (`metadata.label`, or `metadata.example` of the task's eval
   set, as `llmrouter report` reads it);
3. a `score` or `thumbs` feedback (up 1, down 0) naming this model, or naming none when
   this is the live answer;
4. the online judge's score of this answer on `llm.scores`.

An answer none of these scores is left out (and counted). Nothing is ever doubled: the
first answer of a request × model is kept (a repeat — a result published again, a shadow
answer from the live model — is counted as a duplicate), the first feedback of a request ×
kind × model counts (repeats are counted as duplicates), the first score of a request ×
model counts. Feedback naming a request that is not in the window is counted as unknown.
A failed answer is left out: a provider's outage says nothing of the model's quality.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llmrouter.evaluation.learn.outcomes import Outcome
from llmrouter.evaluation.metrics import label_accuracy
from llmrouter.operations.learn_traffic import Traffic
from llmrouter.operations.quality import TruthBook
from llmrouter.schemas import Feedback, LLMRequest, LLMResult, ResultStatus
from llmrouter.schemas.scores import Score

__all__ = ["JoinCounts", "Joined", "join_outcomes"]


@dataclass
class JoinCounts:
    requests: int = 0
    #: requests with at least one outcome line
    requests_with_outcomes: int = 0
    lines: int = 0
    duplicate_requests: int = 0
    duplicate_answers: int = 0
    #: answers to requests outside the window
    unknown_answers: int = 0
    failed_answers: int = 0
    unscored_answers: int = 0
    feedback: int = 0
    duplicate_feedback: int = 0
    unknown_feedback: int = 0
    #: `resolution` feedback: kept by the client's systems, not a score
    resolutions: int = 0
    scores: int = 0
    duplicate_scores: int = 0
    unknown_scores: int = 0
    #: records that could not be decoded, by topic kind
    undecodable: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return dict(vars(self))


@dataclass
class Joined:
    outcomes: list[Outcome]
    counts: JoinCounts


def join_outcomes(traffic: Traffic, truths: TruthBook | None = None) -> Joined:
    truths = truths or TruthBook()
    counts = JoinCounts(undecodable=dict(traffic.undecodable))
    requests = _requests(traffic.requests, counts)
    answers = _answers(traffic.answers, requests, counts)
    feedback = _feedback(traffic.feedback, requests, counts)
    judged = _judged(traffic.scores, requests, counts)
    outcomes: list[Outcome] = []
    for request_id, request in requests.items():
        lines = []
        for model, (answer, live) in answers.get(request_id, {}).items():
            score = _score(answer, live, feedback.get(request_id, []), judged, truths)
            if score is None:
                counts.unscored_answers += 1
                continue
            lines.append(_outcome(request, answer, model, score))
        outcomes += lines
        counts.requests_with_outcomes += bool(lines)
    counts.lines = len(outcomes)
    return Joined(outcomes, counts)


def _requests(found: Iterable[LLMRequest], counts: JoinCounts) -> dict[str, LLMRequest]:
    requests: dict[str, LLMRequest] = {}
    for request in found:
        if request.request_id in requests:
            counts.duplicate_requests += 1
            continue
        requests[request.request_id] = request
    counts.requests = len(requests)
    return requests


def _answers(
    found: Iterable[LLMResult], requests: dict[str, LLMRequest], counts: JoinCounts
) -> dict[str, dict[str, tuple[LLMResult, bool]]]:
    """request id → model → (its answer, whether it is the live one)."""
    answers: dict[str, dict[str, tuple[LLMResult, bool]]] = {}
    for result in found:
        if result.request_id not in requests:
            counts.unknown_answers += 1
            continue
        if result.status is not ResultStatus.OK or result.model is None or result.output is None:
            counts.failed_answers += 1
            continue
        by_model = answers.setdefault(result.request_id, {})
        if result.model in by_model or result.duplicate:
            counts.duplicate_answers += 1
            continue
        by_model[result.model] = (result, result.source == "live")
    return answers


def _feedback(
    found: Iterable[Feedback], requests: dict[str, LLMRequest], counts: JoinCounts
) -> dict[str, list[Feedback]]:
    kept: dict[str, list[Feedback]] = {}
    seen: set[tuple[str, str, str | None]] = set()
    for feedback in found:
        counts.feedback += 1
        if feedback.request_id not in requests:
            counts.unknown_feedback += 1
            continue
        key = (feedback.request_id, feedback.kind, feedback.model)
        if key in seen:
            counts.duplicate_feedback += 1
            continue
        seen.add(key)
        if feedback.kind == "resolution":
            counts.resolutions += 1
            continue
        kept.setdefault(feedback.request_id, []).append(feedback)
    return kept


def _judged(
    found: Iterable[Score], requests: dict[str, LLMRequest], counts: JoinCounts
) -> dict[tuple[str, str], float]:
    judged: dict[tuple[str, str], float] = {}
    for score in found:
        counts.scores += 1
        if score.request_id not in requests:
            counts.unknown_scores += 1
            continue
        key = (score.request_id, score.model)
        if key in judged:
            counts.duplicate_scores += 1
            continue
        judged[key] = score.score
    return judged


def _score(
    answer: LLMResult,
    live: bool,
    feedback: list[Feedback],
    judged: dict[tuple[str, str], float],
    truths: TruthBook,
) -> float | None:
    model = answer.model
    for item in feedback:
        if item.label is not None:
            return float(label_accuracy(answer.output, item.label))
    truth = truths.truth(answer)
    if truth is not None:
        return truth.score(answer.output)
    for item in feedback:
        if item.model == model or (item.model is None and live):
            if item.score is not None:
                return item.score
            if item.thumbs is not None:
                return 1.0 if item.thumbs == "up" else 0.0
    return judged.get((answer.request_id, model or ""))


def _outcome(request: LLMRequest, answer: LLMResult, model: str, score: float) -> Outcome:
    return Outcome(
        prompt_id=request.request_id,
        prompt=request.input,
        task=request.task,
        model=model,
        score=score,
        cost_usd=float(answer.cost_usd),
        answer=answer.output,
    )

"""A replay as training outcomes (`llmrouter replay --outcomes FILE`): for every replayed
request one line for the live answer and one for the candidate's, in the format of
`llmrouter.evaluation.learn.outcomes`.

`prompt_id` is the request id, `prompt` the request's input, `model` the model that gave
the answer (a cascade's final model), `cost_usd` the result's total cost. The score:

- where the request carries its truth (`metadata.label`, or `metadata.example` of the
  task's eval set), both answers are scored against it as the comparison's quality is:
  label accuracy 1/0, or the share of expected elements;
- otherwise the live answer is the reference: the live line scores 1.0 and the
  candidate's 1.0 when it agrees with it on what the comparison compares (the label, the
  task's JSON field, or the normalised text of a free-text task), else 0.0. A request whose
  live answer gives no reference (failed, or no label) is left out.

A failed answer scores 0.0. When the live and the candidate answer come from the same model
only the live line is written (one line per prompt × model), and a side without a model
(failed before any call) has no line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from llmrouter.core.errors import InvalidMessage
from llmrouter.evaluation.learn.outcomes import Outcome
from llmrouter.evaluation.metrics import extract_label, normalise
from llmrouter.kafkaio.reading import Span, read_records, reader
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.operations.quality import TruthBook
from llmrouter.operations.replay_compare import field_agreement
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, decode

__all__ = ["ReplayOutcomes", "replay_outcomes", "request_inputs"]


@dataclass
class ReplayOutcomes:
    outcomes: list[Outcome] = field(default_factory=list)
    #: requests written (with one line or two)
    requests: int = 0
    #: replayed requests with no live result to compare with
    without_live: int = 0
    #: requests whose live answer gives no reference to score against (and no truth)
    without_reference: int = 0
    #: replayed requests whose input was not found in the range (an earlier run's range)
    without_input: int = 0


async def request_inputs(
    kafka: KafkaSettings, spans: Mapping[TopicPartition, Span], request_ids: set[str]
) -> dict[str, str]:
    """The input of each of `request_ids`, re-read from the replayed range of requests
    (so a resumed run has the texts of its earlier chunks too); only those are kept."""
    found: dict[str, str] = {}
    if not request_ids:
        return found
    async with reader(kafka) as consumer:
        async for record in read_records(consumer, spans):
            try:
                request = decode(record.value, LLMRequest)
            except InvalidMessage:
                continue
            if request.request_id in request_ids:
                found.setdefault(request.request_id, request.input)
    return found


def replay_outcomes(
    task: str,
    candidate: Iterable[LLMResult],
    baseline: Mapping[str, LLMResult],
    inputs: Mapping[str, str],
    truths: TruthBook,
    *,
    label_field: str = "label",
    json_output: bool = False,
) -> ReplayOutcomes:
    """Outcome lines of the live and the candidate answer of every replayed request.
    `label_field` and `json_output` are the task's, as `compare` takes them."""
    replayed = list(candidate)
    by_field = truths.is_label_task(task, replayed) or json_output
    made = ReplayOutcomes()
    for result in replayed:
        live = baseline.get(result.request_id)
        if live is None:
            made.without_live += 1
            continue
        prompt = inputs.get(result.request_id)
        if prompt is None:
            made.without_input += 1
            continue
        scores = _scores(live, result, truths, label_field if by_field else None)
        if scores is None:
            made.without_reference += 1
            continue
        made.requests += 1
        live_score, candidate_score = scores
        lines = [(live, live_score)]
        if result.model != live.model:
            lines.append((result, candidate_score))
        made.outcomes += [
            _outcome(r, r.model, prompt, task, score) for r, score in lines if r.model is not None
        ]
    return made


def _scores(
    live: LLMResult, candidate: LLMResult, truths: TruthBook, label_field: str | None
) -> tuple[float, float] | None:
    """(live score, candidate score); None when there is nothing to score against.
    `label_field` None: a free-text task, agreement on the normalised text."""
    truth = truths.truth(candidate) or truths.truth(live)
    if truth is not None:
        return truth.score(_answer(live)), truth.score(_answer(candidate))
    reference = _answer(live)
    if reference is None:
        return None
    if label_field is None:
        if not normalise(reference):
            return None
        answer = _answer(candidate)
        agrees = answer is not None and normalise(answer) == normalise(reference)
        return 1.0, float(agrees)
    if extract_label(reference, label_field) is None:
        return None
    return 1.0, float(field_agreement(reference, _answer(candidate), label_field) is True)


def _answer(result: LLMResult) -> str | None:
    return result.output if result.status is ResultStatus.OK else None


def _outcome(result: LLMResult, model: str, prompt: str, task: str, score: float) -> Outcome:
    return Outcome(
        prompt_id=result.request_id,
        prompt=prompt,
        task=task,
        model=model,
        score=min(1.0, max(0.0, score)),
        cost_usd=float(result.cost_usd),
        answer=result.output,
    )

"""Outcomes from an `llmrouter eval` run: one line per example × evaluated model, scored by
the eval set's primary metric (accuracy for labelled sets, completeness for element sets).
The configured route's row is left out: it is not one model a router could pick."""

from __future__ import annotations

from llmrouter.evaluation.dataset import EvalSet
from llmrouter.evaluation.learn.outcomes import Outcome
from llmrouter.evaluation.runner import EvalRun, ExampleResult

__all__ = ["eval_outcomes"]


def _score(row: ExampleResult, primary: str) -> float | None:
    if primary == "accuracy":
        return None if row.accuracy is None else float(row.accuracy)
    return row.completeness


def eval_outcomes(run: EvalRun, dataset: EvalSet, primary: str) -> list[Outcome]:
    """Examples whose primary metric was not measured (no judge, say) are left out."""
    inputs = {example.id: example.input for example in dataset.examples}
    made = []
    for candidate_run in run.runs:
        if candidate_run.candidate.is_route:
            continue
        for row in candidate_run.results:
            score = _score(row, primary)
            if score is None or row.example_id not in inputs:
                continue
            made.append(
                Outcome(
                    prompt_id=row.example_id,
                    prompt=inputs[row.example_id],
                    task=run.task,
                    model=candidate_run.candidate.label,
                    score=min(1.0, max(0.0, score)),
                    cost_usd=float(row.cost_usd),
                    answer=row.output,
                )
            )
    return made

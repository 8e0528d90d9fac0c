"""The prior-anchored router with the text's say decided per task.

Each task gets its own copy of the prompt's n-grams (`FeatureSpec.task_ngrams`) and its
own regularisation C, so a task whose words do not tell the models apart keeps its prior
(C = 0) while another lets them move it. Per model and task, the offset logistic
regression of `prior_offset` is fitted on that task's prompts and only on that task's own
features. Each task's C is chosen on the validation split by the AIQ of the task's
validation prompts (the router's cost weight swept, its predicted scores against the
prompts' true costs; ties to the smaller C, the prior's side).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from llmrouter.evaluation.learn.prior_offset import TaskPrior, fit_offset_logistic, task_prior

__all__ = ["PerTaskFit", "choose_task_cs", "fit_per_task"]

Matrix = np.ndarray[Any, Any]


class PerTaskFit:
    """Per model: its prior, and per task the (intercept, weights) of its text model."""

    def __init__(self, priors: list[TaskPrior], parts: list[dict[str, tuple[float, Matrix]]]):
        self.priors = priors
        self.parts = parts


def _logits(
    x: sparse.csr_matrix,
    scores: Matrix,
    tasks: list[str | None],
    fit_rows: Matrix,
    c_of: dict[str, float],
    alpha: float,
) -> tuple[list[TaskPrior], list[dict[str, tuple[float, Matrix]]]]:
    names = np.array(["" if t is None else t for t in tasks], dtype=object)
    priors, parts = [], []
    for j in range(scores.shape[1]):
        known = fit_rows & ~np.isnan(scores[:, j])
        rows = np.flatnonzero(known)
        prior = task_prior([tasks[i] for i in rows], scores[rows, j], alpha)
        mine: dict[str, tuple[float, Matrix]] = {}
        for task, c in c_of.items():
            in_task = np.flatnonzero(known & (names == task))
            if c <= 0 or len(in_task) < 2:
                continue
            y = scores[in_task, j]
            mine[task] = fit_offset_logistic(x[in_task], y, prior.offsets([task] * len(in_task)), c)
        priors.append(prior)
        parts.append(mine)
    return priors, parts


def _predict(
    x: sparse.csr_matrix,
    rows: Matrix,
    task: str,
    priors: list[TaskPrior],
    parts: list[dict[str, tuple[float, Matrix]]],
) -> Matrix:
    columns = []
    for prior, mine in zip(priors, parts, strict=True):
        z = np.full(len(rows), float(prior.offsets([task])[0]))
        if task in mine:
            intercept, weights = mine[task]
            z = z + np.asarray(x[rows] @ weights) + intercept
        columns.append(z)
    return np.stack(columns, axis=1)


def _aiq(truth: Matrix, costs: Matrix, logits: Matrix) -> float:
    """The AIQ of routing these prompts on `logits` (prompts every model answered)."""
    from llmrouter.evaluation.learn.baselines import Predictions
    from llmrouter.evaluation.learn.evaluate import Evaluation, _result, _sweep, _Truth

    models = [str(j) for j in range(truth.shape[1])]
    single = {
        m: (float(truth[:, j].mean()), float(costs[:, j].mean())) for j, m in enumerate(models)
    }
    ev = Evaluation(len(truth), models, single, [])
    predicted = Predictions("validation", 1.0 / (1.0 + np.exp(-logits)), costs)
    return _result("validation", _sweep(_Truth(models, truth, costs), predicted), [], ev).aiq


def choose_task_cs(
    x: sparse.csr_matrix,
    scores: Matrix,
    costs: Matrix,
    tasks: list[str | None],
    held: Matrix,
    cs: Sequence[float],
    alpha: float,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per task, the C with the best AIQ on the held rows; and every C's validation AIQ
    per task."""
    names = np.array(["" if t is None else t for t in tasks], dtype=object)
    named = sorted({t for t in tasks if t is not None})
    quality: dict[str, dict[str, float]] = {t: {} for t in named}
    for c in sorted(set(cs)):
        priors, parts = _logits(x, scores, tasks, ~held, dict.fromkeys(named, c), alpha)
        for task in named:
            complete = ~np.isnan(scores).any(axis=1) & ~np.isnan(costs).any(axis=1)
            rows = np.flatnonzero(held & complete & (names == task))
            if not len(rows):
                continue
            logits = _predict(x, rows, task, priors, parts)
            quality[task][str(c)] = _aiq(scores[rows], costs[rows], logits)
    chosen = {}
    for task in named:
        seen = quality[task]
        chosen[task] = (
            min((float(c) for c in seen), key=lambda c: (-seen[str(c)], c)) if seen else 0.0
        )
    return chosen, quality


def fit_per_task(
    x: sparse.csr_matrix,
    scores: Matrix,
    tasks: list[str | None],
    c_of: dict[str, float],
    alpha: float,
) -> PerTaskFit:
    everything = np.ones(len(tasks), dtype=bool)
    return PerTaskFit(*_logits(x, scores, tasks, everything, c_of, alpha))

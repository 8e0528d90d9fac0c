"""Per-model success predictors anchored on the per-task prior.

Each model's probability of a good answer is σ(logit(prior[task, model]) + w · x + b): the
prior (the model's mean training score in the prompt's task, shrunk toward its mean over
all tasks by `alpha` pseudo-prompts) is a fixed offset, and a logistic regression over the
prompt's features learns only how a prompt moves the model away from its task's level.
With no regularisation budget (`c` → 0) it is the prior itself; the budget is chosen on a
validation split carved from the training outcomes. Scores in 0..1 are soft labels (the
cross-entropy of a graded score), so graded and right/wrong scores train alike.

The offset is plain linear weights in the router's feature space: the model's overall
prior is the intercept and each task's difference from it the weight of that task's tag,
so the saved router is the usual linear file and a task it never saw gets the overall
prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

__all__ = ["TaskPrior", "fit_offset_logistic", "logit", "task_prior"]

Vector = np.ndarray[Any, np.dtype[np.float64]]
#: probabilities are kept this far from 0 and 1 before taking logits
_EPSILON = 1e-3


def logit(p: Vector | float) -> Vector:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


@dataclass(frozen=True)
class TaskPrior:
    """One model's smoothed mean score per task, and over every task."""

    overall: float
    by_task: dict[str, float]

    def of(self, task: str | None) -> float:
        return self.by_task.get(task, self.overall) if task is not None else self.overall

    def offsets(self, tasks: Sequence[str | None]) -> Vector:
        return logit(np.array([self.of(t) for t in tasks]))


def task_prior(tasks: Sequence[str | None], y: Vector, alpha: float) -> TaskPrior:
    """Per task, (sum of scores + alpha × overall mean) / (prompts + alpha)."""
    overall = float(y.mean())
    sums: dict[str, list[float]] = {}
    for task, score in zip(tasks, y.tolist(), strict=True):
        if task is not None:
            sums.setdefault(task, []).append(score)
    by_task = {t: (sum(s) + alpha * overall) / (len(s) + alpha) for t, s in sums.items()}
    return TaskPrior(overall, by_task)


def fit_offset_logistic(
    x: sparse.csr_matrix, y: Vector, offset: Vector, c: float, *, max_iterations: int = 300
) -> tuple[float, Vector]:
    """Minimise Σ cross-entropy(y, σ(x·w + b + offset)) + |w|² / (2c): (b, w). `c` = 0
    gives w = 0 and only the intercept (the offset alone, recentred)."""
    used = np.unique(x.indices)  # columns that are zero everywhere keep weight 0
    xs = x[:, used].tocsr()
    if c <= 0 or not len(used):
        xs = sparse.csr_matrix((x.shape[0], 0))
        used = used[:0]
        c = 1.0

    def loss(params: Vector) -> tuple[float, Vector]:
        w, b = params[:-1], params[-1]
        z = xs @ w + b + offset
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow
        value = float(np.sum(np.logaddexp(0.0, z) - y * z)) + float(w @ w) / (2 * c)
        error = p - y
        gradient = np.concatenate([xs.T @ error + w / c, [error.sum()]])
        return value, gradient

    result = minimize(
        loss,
        np.zeros(xs.shape[1] + 1),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations},
    )
    weights = np.zeros(x.shape[1])
    weights[used] = result.x[:-1]
    intercept = float(result.x[-1])
    if not math.isfinite(intercept) or not np.all(np.isfinite(weights)):
        raise ValueError("the offset logistic regression diverged")
    return intercept, weights

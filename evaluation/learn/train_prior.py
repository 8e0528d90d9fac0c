"""Fit a prior-anchored router (evaluation/learn/prior_offset.py) and save it in the
router's linear format.

    1. carve a validation split from the training outcomes (a seeded `validation_share`
       of each task's prompts);
    2. for each regularisation budget of `cs` (0 is the per-task prior alone), fit every
       model's offset logistic regression on the rest and score it on the validation
       split (Brier score: mean squared error of the predicted scores, over all models);
    3. refit every model on all the training outcomes with the best budget, and fold the
       prior into the weights: its overall level into the intercept, each task's
       difference from it into that task's tag.

Costs get the usual ridge regression (`train.fit_predictor`). The features are the
router's own (`FeatureSpec`; per-task numeric counts on by default), so serving is the
linear router that `strategy: learned` already loads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from llmrouter.evaluation.learn.features import feature_matrix
from llmrouter.evaluation.learn.outcomes import OutcomesError, OutcomeSet
from llmrouter.evaluation.learn.per_task import choose_task_cs, fit_per_task
from llmrouter.evaluation.learn.prior_offset import (
    TaskPrior,
    fit_offset_logistic,
    logit,
    task_prior,
)
from llmrouter.evaluation.learn.select import predict_linear
from llmrouter.evaluation.learn.train import (
    TrainingSummary,
    fit_predictor,
    training_meta,
    write_router_file,
)
from llmrouter.router.learned import FeatureSpec, Predictor, saved_document
from llmrouter.router.learned_features import task_index

__all__ = ["PRIOR_CS", "PRIOR_SPEC", "train_prior_router", "validation_rows"]

#: regularisation budgets compared on the validation split; 0 is the per-task prior
PRIOR_CS = (0.0, 0.03, 0.1, 0.3, 1.0)
#: the features a prior-anchored router uses unless told otherwise
PRIOR_SPEC = FeatureSpec(task_numeric=True)
Vector = np.ndarray[Any, np.dtype[np.float64]]


def validation_rows(tasks: Sequence[str | None], share: float, seed: int) -> np.ndarray[Any, Any]:
    """A boolean mask: `share` of each task's prompts (rounded, at least one of a task
    with two or more), drawn with `seed`."""
    if not 0 < share < 1:
        raise OutcomesError("the validation share must be between 0 and 1")
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(tasks), dtype=bool)
    groups: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault("" if task is None else f"={task}", []).append(i)
    for _, members in sorted(groups.items()):
        rows = np.array(members)
        if len(rows) < 2:
            continue
        rng.shuffle(rows)
        mask[rows[: max(1, round(share * len(rows)))]] = True
    return mask


def _fit(
    x: sparse.csr_matrix, y: Vector, tasks: list[str | None], c: float, alpha: float
) -> tuple[Predictor, Vector, TaskPrior]:
    """One model's predictor in the training feature space (no task tag), and its prior."""
    prior = task_prior(tasks, y, alpha)
    intercept, weights = fit_offset_logistic(x, y, prior.offsets(tasks), c)
    return Predictor("logistic", intercept, 0.0, 1.0), weights, prior


def _validation_brier(
    x: sparse.csr_matrix,
    scores: np.ndarray[Any, Any],
    tasks: list[str | None],
    held: np.ndarray[Any, Any],
    c: float,
    alpha: float,
) -> float:
    total, count = 0.0, 0
    for j in range(scores.shape[1]):
        known = ~np.isnan(scores[:, j])
        fit, check = np.flatnonzero(known & ~held), np.flatnonzero(known & held)
        if len(fit) < 2 or not len(check):
            continue
        predictor, weights, prior = _fit(x[fit], scores[fit, j], [tasks[i] for i in fit], c, alpha)
        offsets = prior.offsets([tasks[i] for i in check])
        predicted = predict_linear(predictor, weights, x[check], offsets)
        total += float(np.sum((predicted - scores[check, j]) ** 2))
        count += len(check)
    return total / count if count else math.inf


def train_prior_router(
    outcomes: OutcomeSet,
    out: Path,
    *,
    models: Sequence[str] | None = None,
    spec: FeatureSpec | None = None,
    cs: Sequence[float] = PRIOR_CS,
    alpha: float = 2.0,
    validation_share: float = 0.25,
    seed: int = 0,
    per_task: bool = False,
) -> TrainingSummary:
    """Fit and save a prior-anchored router; `cs` are the budgets compared on the
    validation split (one budget: no validation, that one is used). `per_task` gives each
    task its own n-grams and its own budget (evaluation/learn/per_task.py)."""
    if per_task:
        return _train_per_task(outcomes, out, models, spec, cs, alpha, validation_share, seed)
    spec, chosen, scores, costs, tasks = _prepared(outcomes, models, spec, cs, task_ngrams=False)
    # Trained without the tags (value 0); the prior is folded into their weights afterwards,
    # each task's in a place of its own (`spec.tasks`).
    x = feature_matrix(
        replace(spec, task_weight=0.0), [{"prompt": p} for p in outcomes.prompts], tasks
    )
    briers: dict[float, float] = {}
    if len(set(cs)) > 1:
        held = validation_rows(tasks, validation_share, seed)
        briers = {c: _validation_brier(x, scores, tasks, held, c, alpha) for c in sorted(set(cs))}
        best_c = min(briers, key=lambda c: (briers[c], c))
    else:
        best_c = float(cs[0])
    tags = {t: index for t in spec.tasks if (index := task_index(spec, t)) is not None}
    fitted: list[tuple[Predictor, Any]] = []
    fitted_costs: list[tuple[Predictor, Any]] = []
    examples = 0
    for j, model in enumerate(chosen):
        rows = _answered_rows(scores, j, model)
        examples += len(rows)
        predictor, weights, prior = _fit(
            x[rows], scores[rows, j], [tasks[i] for i in rows], best_c, alpha
        )
        fitted.append(_fold(predictor, weights, prior, tags, spec))
        fitted_costs.append(fit_predictor(x[rows], costs[rows, j], kind="cost"))
    extra: dict[str, Any] = {"models": chosen, **training_meta(outcomes, examples)}
    extra["training"]["prior_anchored"] = {
        "c": best_c,
        "alpha": alpha,
        "validation_share": validation_share,
        "seed": seed,
        "validation_brier": {str(c): b for c, b in briers.items()},
    }
    write_router_file(out, saved_document("router", spec, fitted + fitted_costs, extra))
    return TrainingSummary(out, chosen, examples, outcomes.sha256)


def _fold(
    predictor: Predictor,
    weights: Vector,
    prior: TaskPrior,
    tags: dict[str, int],
    spec: FeatureSpec,
) -> tuple[Predictor, Vector]:
    """The prior as linear weights: the overall logit in the intercept, each task's
    difference from it on the task's tag (value `spec.task_weight`)."""
    overall = float(logit(prior.overall))
    folded = weights.copy()
    for task, index in tags.items():
        folded[index] += (float(logit(prior.of(task))) - overall) / spec.task_weight
    return replace(predictor, intercept=predictor.intercept + overall), folded


def _train_per_task(
    outcomes: OutcomeSet,
    out: Path,
    models: Sequence[str] | None,
    spec: FeatureSpec | None,
    cs: Sequence[float],
    alpha: float,
    validation_share: float,
    seed: int,
) -> TrainingSummary:
    spec, chosen, scores, costs, tasks = _prepared(outcomes, models, spec, cs, task_ngrams=True)
    texts = [{"prompt": p} for p in outcomes.prompts]
    x_all = feature_matrix(replace(spec, task_weight=0.0), texts, tasks)
    # The shared features (what every task sees) stay out of the per-task fits: the
    # costs are fitted on them, the scores on each task's own copy.
    x_shared = feature_matrix(
        replace(spec, task_weight=0.0, task_ngrams=False, task_numeric=False), texts, tasks
    )
    keep = np.ones(spec.dimension)
    keep[np.unique(x_shared.indices)] = 0.0
    x_task = (x_all @ sparse.diags(keep)).tocsr()
    x_task.eliminate_zeros()
    held = validation_rows(tasks, validation_share, seed)
    c_of, quality = choose_task_cs(x_task, scores, costs, tasks, held, cs, alpha)
    fit = fit_per_task(x_task, scores, tasks, c_of, alpha)
    fitted: list[tuple[Predictor, Any]] = []
    fitted_costs: list[tuple[Predictor, Any]] = []
    examples = 0
    for j, model in enumerate(chosen):
        rows = _answered_rows(scores, j, model)
        examples += len(rows)
        prior, parts = fit.priors[j], fit.parts[j]
        overall = float(logit(prior.overall))
        weights = np.zeros(spec.dimension)
        for task in spec.tasks:
            index = task_index(spec, task)
            assert index is not None  # every named task has its tag
            intercept, task_weights = parts.get(task, (0.0, None))
            if task_weights is not None:
                weights += task_weights
            weights[index] += float(logit(prior.of(task))) - overall + intercept
        fitted.append((Predictor("logistic", overall, 0.0, 1.0), weights))
        fitted_costs.append(fit_predictor(x_shared[rows], costs[rows, j], kind="cost"))
    extra: dict[str, Any] = {"models": chosen, **training_meta(outcomes, examples)}
    extra["training"]["prior_anchored"] = {
        "per_task_c": c_of,
        "alpha": alpha,
        "validation_share": validation_share,
        "seed": seed,
        "validation_aiq": quality,
    }
    write_router_file(out, saved_document("router", spec, fitted + fitted_costs, extra))
    return TrainingSummary(out, chosen, examples, outcomes.sha256)


def _answered_rows(scores: np.ndarray[Any, Any], j: int, model: str) -> np.ndarray[Any, Any]:
    """The rows model `j` has an outcome for; at least two, or there is nothing to learn."""
    rows = np.flatnonzero(~np.isnan(scores[:, j]))
    if len(rows) < 2:
        raise OutcomesError(f"model {model!r} has fewer than two outcomes to learn from")
    return rows


def _prepared(
    outcomes: OutcomeSet,
    models: Sequence[str] | None,
    spec: FeatureSpec | None,
    cs: Sequence[float],
    *,
    task_ngrams: bool,
) -> tuple[FeatureSpec, list[str], Any, Any, list[str | None]]:
    """The checked inputs of both trainers: the spec naming every task (with per-task
    n-grams when asked), the chosen models, and their scores and costs (a column a model)
    with each outcome's task."""
    named = tuple(sorted({t for t in outcomes.tasks if t is not None}))
    spec = replace(spec or PRIOR_SPEC, task_weight=1.0, tasks=named)
    if task_ngrams:
        spec = replace(spec, task_ngrams=True)
    chosen = list(models) if models else list(outcomes.models)
    if len(chosen) < 2:
        raise OutcomesError("a router needs outcomes of at least two models")
    if not cs or any(not math.isfinite(c) or c < 0 for c in cs):
        raise OutcomesError("regularisation budgets must be finite and not negative")
    columns = [outcomes.column(m) for m in chosen]
    scores = np.array(outcomes.scores, dtype=np.float64)[:, columns]
    costs = np.array(outcomes.costs, dtype=np.float64)[:, columns]
    return spec, chosen, scores, costs, list(outcomes.tasks)

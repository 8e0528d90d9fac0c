"""Fit a learned router (per model: its score and its cost from the prompt) and a learned
cascade scorer (is this model's answer good enough), and save them in the router's format.

Scores that are all 0 or 1 get a logistic regression (a probability of being right), other
scores a ridge regression; costs a ridge regression. Regularisation is picked by
cross-validation on the training data; linear models keep the saved file plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import StratifiedKFold, cross_val_score

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation.learn.features import feature_matrix
from llmrouter.evaluation.learn.outcomes import OutcomesError, OutcomeSet
from llmrouter.evaluation.learn.select import SELECTION_C, choose_text_weight
from llmrouter.router.learned import FeatureSpec, Predictor, saved_document

__all__ = [
    "TrainingSummary",
    "fit_predictor",
    "train_router",
    "train_scorer",
    "training_meta",
    "write_router_file",
]

_RIDGE_ALPHAS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
_LOGISTIC_CS = (0.1, 0.3, 1.0, 3.0, 10.0)
#: below this many examples of the rarer class, cross-validation is not worth its noise
_MIN_FOR_CV = 10


@dataclass(frozen=True)
class TrainingSummary:
    path: Path
    models: list[str]
    examples: int
    sha256: str


def fit_predictor(
    x: sparse.csr_matrix,
    y: np.ndarray[Any, Any],
    *,
    kind: str,
    seed: int = 0,
    c: float | None = None,
) -> tuple[Predictor, np.ndarray[Any, Any]]:
    """One linear predictor: `kind` is `score` (probability or value in 0..1) or `cost`.
    `c` fixes a logistic regression's regularisation instead of cross-validating it."""
    low, high = float(y.min()), float(y.max())
    zeros = np.zeros(x.shape[1])
    if low == high:  # nothing to learn: a constant
        return Predictor("linear", low, low, high), zeros
    binary = kind == "score" and bool(np.all((y == 0) | (y == 1)))
    if binary:
        labels = y.astype(int)
        rarer = int(min(labels.sum(), len(labels) - labels.sum()))
        if c is None:
            c = _pick_c(x, labels, seed) if rarer >= _MIN_FOR_CV else 1.0
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000).fit(x, labels)
        weights = np.asarray(model.coef_[0], dtype=np.float64)
        return Predictor("logistic", float(model.intercept_[0]), 0.0, 1.0), weights
    scale = float(np.mean(np.abs(y))) or 1.0  # well-conditioned targets for tiny USD amounts
    ridge = RidgeCV(alphas=_RIDGE_ALPHAS).fit(x, y / scale)
    weights = np.asarray(ridge.coef_, dtype=np.float64) * scale
    bounds = (0.0, 1.0) if kind == "score" else (low, high)
    return Predictor("linear", float(ridge.intercept_) * scale, *bounds), weights


def _pick_c(x: sparse.csr_matrix, labels: np.ndarray[Any, Any], seed: int) -> float:
    """The regularisation with the best 5-fold log-loss."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    losses = {
        c: float(
            cross_val_score(
                LogisticRegression(C=c, solver="liblinear", max_iter=1000),
                x,
                labels,
                cv=folds,
                scoring="neg_log_loss",
            ).mean()
        )
        for c in _LOGISTIC_CS
    }
    return max(losses, key=lambda c: losses[c])


def _rows(outcomes: OutcomeSet, column: int) -> list[int]:
    return [i for i in range(len(outcomes)) if not math.isnan(outcomes.scores[i][column])]


def training_meta(outcomes: OutcomeSet, examples: int) -> dict[str, Any]:
    """The `training` block of a saved file: its size and the training file's digest."""
    return {
        "training": {
            "examples": examples,
            "prompts": len(outcomes),
            "sha256": outcomes.sha256,
            "source": Path(outcomes.source).name,
        }
    }


def write_router_file(path: Path, document: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(document)
    except OSError as exc:
        raise LLMRouterError(f"cannot write {path}: {exc.strerror}") from None


def train_router(
    outcomes: OutcomeSet,
    out: Path,
    *,
    models: Sequence[str] | None = None,
    spec: FeatureSpec | None = None,
    text_weights: Sequence[float] = (),
) -> TrainingSummary:
    """Fit score and cost predictors for every model (or `models`) and save the router.

    With several `text_weights`, the one whose score predictors cross-validate best on
    the outcomes is used (evaluation/learn/select.py), and the score predictors keep the
    regularisation it was chosen under."""
    spec = spec or FeatureSpec()
    chosen = list(models) if models else list(outcomes.models)
    if len(chosen) < 2:
        raise OutcomesError("a router needs outcomes of at least two models")
    columns = [outcomes.column(m) for m in chosen]
    selection: dict[str, Any] = {}
    c: float | None = None  # cross-validated per model
    if len(text_weights) == 1:
        spec = replace(spec, text_weight=float(text_weights[0]))
    elif text_weights:
        weight, losses = choose_text_weight(outcomes, chosen, spec, text_weights)
        spec = replace(spec, text_weight=weight)
        selection = {"text_weight_brier": {str(w): loss for w, loss in losses.items()}}
        c = SELECTION_C  # the regularisation the weight was chosen under
    x_all = feature_matrix(spec, [{"prompt": p} for p in outcomes.prompts], outcomes.tasks)
    scores: list[tuple[Predictor, Any]] = []
    costs: list[tuple[Predictor, Any]] = []
    examples = 0
    for model, j in zip(chosen, columns, strict=True):
        rows = _rows(outcomes, j)
        if len(rows) < 2:
            raise OutcomesError(f"model {model!r} has fewer than two outcomes to learn from")
        examples += len(rows)
        x = x_all[rows]
        scores.append(
            fit_predictor(x, np.array([outcomes.scores[i][j] for i in rows]), kind="score", c=c)
        )
        costs.append(fit_predictor(x, np.array([outcomes.costs[i][j] for i in rows]), kind="cost"))
    extra = {"models": chosen, **training_meta(outcomes, examples)}
    extra["training"].update(selection)
    write_router_file(out, saved_document("router", spec, scores + costs, extra))
    return TrainingSummary(out, chosen, examples, outcomes.sha256)


def train_scorer(
    outcomes: OutcomeSet, model: str, out: Path, *, spec: FeatureSpec | None = None
) -> TrainingSummary:
    """Fit P(model's answer is good enough | prompt, answer) from that model's outcomes.
    A score counts as good at 0.5 or above when scores are not already 0 or 1."""
    spec = spec or FeatureSpec(fields=("prompt", "answer"))
    j = outcomes.column(model)
    rows = [i for i in _rows(outcomes, j) if outcomes.answers[i][j] is not None]
    if len(rows) < 2:
        raise OutcomesError(
            f"model {model!r} needs at least two outcomes with an `answer` to train a scorer"
        )
    texts = [{"prompt": outcomes.prompts[i], "answer": outcomes.answers[i][j] or ""} for i in rows]
    x = feature_matrix(spec, texts, [outcomes.tasks[i] for i in rows])
    good = np.array([1.0 if outcomes.scores[i][j] >= 0.5 else 0.0 for i in rows])
    predictor = fit_predictor(x, good, kind="score")
    extra = {"model": model, **training_meta(outcomes, len(rows))}
    write_router_file(out, saved_document("scorer", spec, [predictor], extra))
    return TrainingSummary(out, [model], len(rows), outcomes.sha256)

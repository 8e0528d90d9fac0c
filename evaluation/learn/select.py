"""How much of the prompt's text a learned router should use: the text weight whose score
predictors cross-validate best on the training outcomes.

With a strong task tag (`FeatureSpec.task_weight`), a text weight of 0 is a per-task prior
(each model's mean score per task); larger weights let the prompt's words and counts move
each prediction away from its task's level. Which helps depends on the data: on prompts
whose words say little about which model will be right, the words fit noise. The choice is
made on the training outcomes alone, by k-fold cross-validation of the Brier score (the
mean squared error of the predicted scores, fine for 0/1 and graded scores alike) summed
over the models, with the regularisation fixed so that the folds compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import KFold

from llmrouter.evaluation.learn.features import feature_matrix
from llmrouter.evaluation.learn.outcomes import OutcomesError, OutcomeSet
from llmrouter.router.learned import FeatureSpec, Predictor

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["SELECTION_C", "choose_text_weight", "predict_linear"]

#: the regularisation (logistic C) of every fit compared, and of the final fit
SELECTION_C = 1.0


def predict_linear(
    predictor: Predictor,
    weights: np.ndarray[Any, Any],
    x: sparse.csr_matrix,
    offsets: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """What a saved predictor gives for the rows of `x`, as the router computes it (plus
    per-row `offsets` before the link, for a predictor trained with them)."""
    z = np.asarray(x @ weights, dtype=np.float64) + predictor.intercept
    if offsets is not None:
        z = z + offsets
    if predictor.kind == "logistic":
        z = 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))
    return np.clip(z, predictor.low, predictor.high)


def choose_text_weight(
    outcomes: OutcomeSet,
    models: Sequence[str],
    spec: FeatureSpec,
    weights: Sequence[float],
    *,
    folds: int = 3,
    seed: int = 0,
) -> tuple[float, dict[float, float]]:
    """The weight of `weights` with the lowest cross-validated Brier score, and each
    weight's score (ties go to the smaller weight: the simpler model)."""
    from llmrouter.evaluation.learn.train import fit_predictor

    if not weights or any(not math.isfinite(w) or w < 0 for w in weights):
        raise OutcomesError("text weights must be finite and not negative")
    if len(outcomes) < folds:
        raise OutcomesError(f"choosing a text weight needs at least {folds} prompts")
    columns = [outcomes.column(m) for m in models]
    scores = np.array(outcomes.scores, dtype=np.float64)
    splits = list(KFold(folds, shuffle=True, random_state=seed).split(np.arange(len(outcomes))))
    losses: dict[float, float] = {}
    for weight in sorted(set(float(w) for w in weights)):
        x = feature_matrix(
            replace(spec, text_weight=weight),
            [{"prompt": p} for p in outcomes.prompts],
            outcomes.tasks,
        )
        total, count = 0.0, 0
        for train_rows, test_rows in splits:
            for j in columns:
                fit = train_rows[~np.isnan(scores[train_rows, j])]
                held = test_rows[~np.isnan(scores[test_rows, j])]
                if len(fit) < 2 or not len(held):
                    continue
                predictor, w = fit_predictor(x[fit], scores[fit, j], kind="score", c=SELECTION_C)
                predicted = predict_linear(predictor, w, x[held])
                total += float(np.sum((predicted - scores[held, j]) ** 2))
                count += len(held)
        losses[weight] = total / count if count else math.inf
    best = min(losses, key=lambda w: (losses[w], w))
    return best, losses

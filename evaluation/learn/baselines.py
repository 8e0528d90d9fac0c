"""What each router predicts for a test set: a score and a cost per prompt × model. The
learned router, and the baselines it is measured against: a per-task prior, a TF-IDF +
logistic-regression router and the oracle (the true outcomes). The random router and the
single models need no predictions; `evaluate` computes them directly."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge

from llmrouter.evaluation.learn.outcomes import OutcomeSet
from llmrouter.router.learned import LearnedRouter

__all__ = ["Predictions", "learned", "oracle", "task_prior", "tfidf_logistic"]

Matrix = np.ndarray[tuple[int, int], np.dtype[np.float64]]


@dataclass(frozen=True)
class Predictions:
    """Predicted scores and costs (prompts × models) of one router on a test set."""

    name: str
    scores: Matrix
    costs: Matrix


def learned(router: LearnedRouter, test: OutcomeSet, name: str = "learned") -> Predictions:
    columns = [router.models.index(m) for m in test.models]
    scores, costs = [], []
    for prompt, task in zip(test.prompts, test.tasks, strict=True):
        s, c = router.predict(prompt, task)
        scores.append([s[j] for j in columns])
        costs.append([c[j] for j in columns])
    return Predictions(name, np.array(scores), np.array(costs))


def oracle(test: OutcomeSet) -> Predictions:
    return Predictions("oracle", np.array(test.scores), np.array(test.costs))


def _column_means(train: OutcomeSet, rows: list[int], matrix: list[list[float]]) -> list[float]:
    means = []
    for j in range(len(train.models)):
        values = [matrix[i][j] for i in rows if not math.isnan(matrix[i][j])]
        means.append(sum(values) / len(values) if values else 0.0)
    return means


def task_prior(train: OutcomeSet, test: OutcomeSet) -> Predictions:
    """Per task, each model's mean training score and cost (the whole set's for a task the
    training data lacks): one model per task, the hand-written route learned from data."""
    train = train.select(test.models)
    by_task: dict[str | None, list[int]] = defaultdict(list)
    for i, task in enumerate(train.tasks):
        by_task[task].append(i)
    everything = list(range(len(train)))
    prior = {
        task: (_column_means(train, rows, train.scores), _column_means(train, rows, train.costs))
        for task, rows in [*by_task.items(), ("\x00all", everything)]
    }
    rows_s, rows_c = [], []
    for task in test.tasks:
        s, c = prior.get(task, prior["\x00all"])
        rows_s.append(s)
        rows_c.append(c)
    return Predictions("per-task prior", np.array(rows_s), np.array(rows_c))


def tfidf_logistic(train: OutcomeSet, test: OutcomeSet) -> Predictions:
    """Word TF-IDF and, per model, a logistic regression of `score >= 0.5` (a ridge
    regression when a model is always or never good); costs are each model's mean."""
    train = train.select(test.models)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train.prompts)
    x_test = vectorizer.transform(test.prompts)
    y = np.array(train.scores)
    columns = []
    for j in range(len(test.models)):
        good = (y[:, j] >= 0.5).astype(int)
        if 0 < good.sum() < len(good):
            model = LogisticRegression(C=1.0, max_iter=2000).fit(x_train, good)
            columns.append(model.predict_proba(x_test)[:, 1])
        else:
            columns.append(Ridge(alpha=1.0).fit(x_train, y[:, j]).predict(x_test))
    mean_costs = np.array(train.costs).mean(axis=0)
    costs = np.tile(mean_costs, (len(test), 1))
    return Predictions("TF-IDF + LR", np.stack(columns, axis=1), costs)

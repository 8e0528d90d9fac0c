"""Evaluate a learned router on held-out outcomes the way the routing papers do.

Every router's knob is swept: for cost weight λ each prompt goes to the model maximising
predicted score − λ × predicted cost, giving a cost–quality curve scored by AIQ, the
quality at the best single model's cost and the cost at which the best model's quality is
matched. With two models, prompts are also ranked by predicted quality gain of the strong
model and sent to it top first, giving PGR against the share of strong calls (APGR, CPT).
A learned cascade scorer adds the cascade's curve: the cheap model always answers, and the
strong model only when the scorer's probability is below a threshold that is swept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrouter.evaluation.learn import metrics
from llmrouter.evaluation.learn.baselines import (
    Predictions,
    learned,
    oracle,
    task_prior,
    tfidf_logistic,
)
from llmrouter.evaluation.learn.outcomes import OutcomesError, OutcomeSet
from llmrouter.router.learned import LearnedRouter, LearnedScorer

__all__ = ["CurvePoint", "Evaluation", "PolicyResult", "evaluate"]

Matrix = np.ndarray[Any, np.dtype[np.float64]]
#: cost weights swept, as multiples of 1 / (mean cost per prompt): from "quality only" to
#: "cost only"
_KNOB = (0.0, *np.geomspace(1e-3, 1e4, 71).tolist(), math.inf)


@dataclass(frozen=True)
class CurvePoint:
    knob: float
    cost_usd: float
    quality: float
    #: share of prompts sent to each model (a cascade: share that reached it)
    shares: dict[str, float]


@dataclass
class PolicyResult:
    name: str
    curve: list[CurvePoint]
    aiq: float
    quality_at_best_cost: float
    cost_to_match_best_usd: float | None
    #: two models only: (share of strong calls, quality) and its PGR summaries
    strong_curve: list[tuple[float, float]] = field(default_factory=list)
    apgr: float | None = None
    cpt50: float | None = None
    cpt80: float | None = None
    #: the smallest share of strong calls reaching the strong model's quality
    strong_share_to_match: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aiq": self.aiq,
            "quality_at_best_cost": self.quality_at_best_cost,
            "cost_to_match_best_usd": self.cost_to_match_best_usd,
            "apgr": self.apgr,
            "cpt50": self.cpt50,
            "cpt80": self.cpt80,
            "strong_share_to_match": self.strong_share_to_match,
            "curve": [
                {
                    "knob": None if math.isinf(p.knob) else p.knob,
                    "cost_usd": p.cost_usd,
                    "quality": p.quality,
                    "shares": p.shares,
                }
                for p in self.curve
            ],
            "strong_curve": [list(p) for p in self.strong_curve],
        }


@dataclass
class Evaluation:
    prompts: int
    models: list[str]
    single: dict[str, tuple[float, float]]  # model → (quality, cost per prompt)
    policies: list[PolicyResult]
    weak: str | None = None
    strong: str | None = None
    notes: list[str] = field(default_factory=list)

    def policy(self, name: str) -> PolicyResult:
        return next(p for p in self.policies if p.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "models": self.models,
            "single": {
                m: {"quality": q, "cost_per_prompt_usd": c} for m, (q, c) in self.single.items()
            },
            "weak": self.weak,
            "strong": self.strong,
            "policies": [p.to_json() for p in self.policies],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Truth:
    models: list[str]
    scores: Matrix
    costs: Matrix

    def point(self, choice: np.ndarray[Any, Any], knob: float) -> CurvePoint:
        rows = np.arange(len(choice))
        counts = np.bincount(choice, minlength=len(self.models)) / len(choice)
        return CurvePoint(
            knob,
            float(self.costs[rows, choice].mean()),
            float(self.scores[rows, choice].mean()),
            {m: float(s) for m, s in zip(self.models, counts, strict=True)},
        )


def _sweep(truth: _Truth, predicted: Predictions) -> list[CurvePoint]:
    scale = float(truth.costs.mean()) or 1.0
    # Ties go to the cheaper model, as in `pick`.
    tiebreak = 1e-9 * predicted.costs / (float(np.abs(predicted.costs).max()) or 1.0)
    curve = []
    for knob in _KNOB:
        if math.isinf(knob):
            value = -predicted.costs + 1e-9 * predicted.scores
        else:
            value = predicted.scores - (knob / scale) * predicted.costs - tiebreak
        curve.append(truth.point(np.argmax(value, axis=1), knob / scale))
    return curve


def _strong_curve(
    truth: _Truth, gain: np.ndarray[Any, Any], weak: int, strong: int
) -> list[tuple[float, float]]:
    """Send the k prompts of highest predicted gain to the strong model, k = 0..n."""
    order = np.argsort(-gain, kind="stable")
    true_gain = (truth.scores[:, strong] - truth.scores[:, weak])[order]
    n = len(order)
    base = float(truth.scores[:, weak].sum())
    totals = base + np.concatenate([[0.0], np.cumsum(true_gain)])
    return [(k / n, float(totals[k]) / n) for k in range(n + 1)]


def _result(
    name: str,
    curve: list[CurvePoint],
    strong_curve: list[tuple[float, float]],
    ev: Evaluation,
) -> PolicyResult:
    costs = [c for _, c in ev.single.values()]
    best_quality, best_cost = max(ev.single.values(), key=lambda qc: (qc[0], -qc[1]))
    points = [(p.cost_usd, p.quality) for p in curve]
    front = metrics.hull(points)
    result = PolicyResult(
        name,
        curve,
        metrics.aiq(points, min(costs), max(costs)),
        metrics.quality_at(front, best_cost),
        metrics.cost_to_reach(front, best_quality),
    )
    if strong_curve and ev.weak and ev.strong:
        weak_q, strong_q = ev.single[ev.weak][0], ev.single[ev.strong][0]
        result.strong_curve = strong_curve
        result.apgr = metrics.apgr(strong_curve, weak_q, strong_q)
        result.cpt50 = metrics.cpt(strong_curve, weak_q, strong_q, 0.5)
        result.cpt80 = metrics.cpt(strong_curve, weak_q, strong_q, 0.8)
        result.strong_share_to_match = metrics.share_to_reach(strong_curve, strong_q)
    return result


def _cascade(
    truth: _Truth, test: OutcomeSet, scorer: LearnedScorer, ev: Evaluation
) -> PolicyResult:
    """Cheap model first; escalate to the best single model below a swept threshold."""
    first = truth.models.index(scorer.model)
    best = max(ev.single, key=lambda m: ev.single[m][0])
    if best == scorer.model:
        raise OutcomesError(f"the scorer's model {scorer.model!r} is already the best model")
    last = truth.models.index(best)
    probability = np.array(
        [
            scorer.probability(prompt, answers[first] or "", task)
            for prompt, task, answers in zip(test.prompts, test.tasks, test.answers, strict=True)
        ]
    )
    curve, strong_curve = [], []
    for threshold in [-math.inf, *sorted(set(probability.tolist())), math.inf]:
        up = probability < threshold
        quality = float(np.where(up, truth.scores[:, last], truth.scores[:, first]).mean())
        cost = float((truth.costs[:, first] + up * truth.costs[:, last]).mean())
        share = float(up.mean())
        curve.append(CurvePoint(threshold, cost, quality, {scorer.model: 1.0, best: share}))
        strong_curve.append((share, quality))
    two = ev.weak == scorer.model and ev.strong == best
    return _result(f"cascade ({scorer.model} → {best})", curve, strong_curve if two else [], ev)


def evaluate(
    router: LearnedRouter,
    test: OutcomeSet,
    *,
    train: OutcomeSet | None = None,
    scorer: LearnedScorer | None = None,
) -> Evaluation:
    missing = [m for m in router.models if m not in test.models]
    if missing:
        raise OutcomesError(f"the test outcomes lack the router's models: {', '.join(missing)}")
    test = test.select(router.models)
    if not len(test):
        raise OutcomesError("no test prompt has an outcome for every one of the router's models")
    truth = _Truth(test.models, np.array(test.scores), np.array(test.costs))
    single = {
        m: (float(truth.scores[:, j].mean()), float(truth.costs[:, j].mean()))
        for j, m in enumerate(test.models)
    }
    ev = Evaluation(len(test), list(test.models), single, [])
    if len(test.models) == 2:
        ev.weak, ev.strong = sorted(test.models, key=lambda m: (single[m][1], single[m][0]))
    predictions = [learned(router, test), oracle(test)]
    if train is not None:
        predictions += [task_prior(train, test), tfidf_logistic(train, test)]
    else:
        ev.notes.append("per-task prior and TF-IDF + LR need the training outcomes (--train)")
    for predicted in predictions:
        strong = []
        if ev.weak and ev.strong:
            w, s = test.models.index(ev.weak), test.models.index(ev.strong)
            gain = predicted.scores[:, s] - predicted.scores[:, w]
            strong = _strong_curve(truth, gain, w, s)
        ev.policies.append(_result(predicted.name, _sweep(truth, predicted), strong, ev))
    ev.policies.append(_random(ev))
    if scorer is not None:
        if scorer.model not in test.models:
            raise OutcomesError(f"the scorer's model {scorer.model!r} is not among the router's")
        ev.policies.append(_cascade(truth, test, scorer, ev))
    return ev


def _random(ev: Evaluation) -> PolicyResult:
    """The expected random router: a mix of the cheapest and the dearest model."""
    cheap = min(ev.single, key=lambda m: ev.single[m][1])
    dear = max(ev.single, key=lambda m: ev.single[m][1])
    curve = []
    for share in np.linspace(0, 1, 11).tolist():
        quality = (1 - share) * ev.single[cheap][0] + share * ev.single[dear][0]
        cost = (1 - share) * ev.single[cheap][1] + share * ev.single[dear][1]
        curve.append(CurvePoint(share, cost, quality, {cheap: 1 - share, dear: share}))
    strong = [(p.knob, p.quality) for p in curve] if ev.weak else []
    return _result("random (expected)", curve, strong, ev)

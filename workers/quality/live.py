"""Live quality per task and model, from its scores: the mean of the latest `window`
scores with a Wilson interval, the mean of the `baseline` scores before them, and drift —
the recent mean below the baseline's by more than `drift_margin`, each with at least
`min_scores` (router/config_quality.py QualityWatchSpec). The quality worker keeps it as
scores come (metrics.py); `llmrouter report` works it out from `llm.scores` the same way.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from llmrouter.router.config_quality import QualityWatchSpec

__all__ = ["LiveQuality", "QualityFigures", "figures_of", "wilson_interval"]

_Z95 = 1.959963984540054


def wilson_interval(mean: float, count: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a share `mean` of `count` (scores in 0..1 count as
    fractional successes); (0, 1) for no scores."""
    if count <= 0:
        return 0.0, 1.0
    denominator = 1 + z * z / count
    centre = (mean + z * z / (2 * count)) / denominator
    half = z * math.sqrt(mean * (1 - mean) / count + z * z / (4 * count * count)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class QualityFigures:
    task: str
    model: str
    #: every score seen
    count: int
    #: the latest `window` scores: their mean and its 95% Wilson interval
    recent_count: int
    mean: float
    lower: float
    upper: float
    #: the `baseline` scores before them
    baseline_count: int
    baseline_mean: float | None
    drifting: bool


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def figures_of(
    task: str, model: str, scores: Sequence[float], spec: QualityWatchSpec, count: int
) -> QualityFigures:
    """The figures of `scores` (oldest first; only the last window + baseline matter)."""
    recent = list(scores[-spec.window :])
    baseline = list(scores[-(spec.window + spec.baseline) : -spec.window or None])
    if len(scores) <= spec.window:
        baseline = []
    mean = _mean(recent) or 0.0
    lower, upper = wilson_interval(mean, len(recent))
    baseline_mean = _mean(baseline)
    drifting = (
        baseline_mean is not None
        and len(recent) >= spec.min_scores
        and len(baseline) >= spec.min_scores
        and mean < baseline_mean - spec.drift_margin
    )
    return QualityFigures(
        task, model, count, len(recent), mean, lower, upper, len(baseline), baseline_mean, drifting
    )


class LiveQuality:
    """The latest scores of each (task, model), bounded by its task's window + baseline."""

    def __init__(self, specs: Mapping[str, QualityWatchSpec]) -> None:
        self._specs = dict(specs)
        self._scores: dict[tuple[str, str], deque[float]] = {}
        self._counts: dict[tuple[str, str], int] = {}

    def set_specs(self, specs: Mapping[str, QualityWatchSpec]) -> None:
        """New windows (a reload): the scores kept stay, as many as the new window and
        baseline hold."""
        self._specs = dict(specs)
        for (task, model), kept in list(self._scores.items()):
            spec = self.spec(task)
            size = spec.window + spec.baseline
            if kept.maxlen != size:
                self._scores[(task, model)] = deque(kept, maxlen=size)

    def spec(self, task: str) -> QualityWatchSpec:
        return self._specs.get(task) or QualityWatchSpec()

    def add(self, task: str, model: str, score: float) -> QualityFigures:
        spec = self.spec(task)
        key = (task, model)
        kept = self._scores.get(key)
        if kept is None:
            kept = self._scores[key] = deque(maxlen=spec.window + spec.baseline)
        kept.append(score)
        self._counts[key] = self._counts.get(key, 0) + 1
        return figures_of(task, model, list(kept), spec, self._counts[key])

    def figures(self) -> Iterable[QualityFigures]:
        for (task, model), kept in sorted(self._scores.items()):
            yield figures_of(task, model, list(kept), self.spec(task), self._counts[(task, model)])

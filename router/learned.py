"""A learned router and a learned cascade scorer, as the workers use them at decision time.

Training lives in `llmrouter.evaluation.learn`; this module only loads what it saved and
predicts. The saved file is JSON (no pickle, nothing executable): the feature settings,
and per model linear weights stored as base64 float32 arrays over hashed features. The
features are computed here, in pure Python, so training and serving share one definition.
numpy does the dot products; it ships with the `learn` extra (`pip install 'llmrouter[learn]'`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from llmrouter.core.errors import ConfigError, LLMRouterError
from llmrouter.router.learned_features import (
    FORMAT,
    READABLE_VERSIONS,
    FeatureSpec,
    decode_weights,
    encode_weights,
    featurize,
    numpy_module,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from llmrouter.router.config import RouterConfig

__all__ = [
    "FORMAT",
    "FeatureSpec",
    "LearnedChoice",
    "LearnedRouter",
    "LearnedScorer",
    "Predictor",
    "decode_weights",
    "encode_weights",
    "featurize",
    "load_learned_router",
    "load_learned_routes",
    "load_learned_scorer",
    "pick",
    "saved_document",
]


@dataclass(frozen=True, slots=True)
class Predictor:
    """One linear model over the features: a probability (`logistic`) or a value (`linear`),
    clipped to [low, high] (a score to 0..1, a cost to what training saw)."""

    kind: Literal["logistic", "linear"]
    intercept: float
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "intercept": self.intercept, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class LearnedChoice:
    """What a learned router chose for one prompt, and why."""

    model: str
    predicted_score: float
    predicted_cost_usd: float


class _Linear:
    """A stack of linear predictors sharing one feature space: weights (dimension × K)."""

    def __init__(
        self, spec: FeatureSpec, predictors: list[Predictor], weights: npt.NDArray[np.float32]
    ) -> None:
        self.spec = spec
        self.predictors = predictors
        self.weights = weights
        self._finish = [(p.intercept, p.kind == "logistic", p.low, p.high) for p in predictors]

    def predict(self, texts: dict[str, str], task: str | None) -> list[float]:
        index, value = featurize(self.spec, texts, task)
        out = []
        # A handful of values: plain floats beat numpy's per-call overhead here.
        for z, (intercept, logistic, low, high) in zip(
            (value @ self.weights[index]).tolist(), self._finish, strict=True
        ):
            y = z + intercept
            if logistic:
                y = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, y))))
            out.append(min(high, max(low, y)))
        return out


class LearnedRouter:
    """Per model, a predicted score and cost; picks the model maximising
    score − cost_weight × cost, or the cheapest whose score reaches quality_target."""

    def __init__(self, models: list[str], linear: _Linear, meta: dict[str, Any]) -> None:
        self.models = models
        self._linear = linear
        self.meta = meta

    @property
    def spec(self) -> FeatureSpec:
        return self._linear.spec

    def predict(self, prompt: str, task: str | None = None) -> tuple[list[float], list[float]]:
        """(predicted scores, predicted costs in USD), in the order of `models`."""
        values = self._linear.predict({"prompt": prompt}, task)
        count = len(self.models)
        return values[:count], values[count:]

    def choose(
        self,
        prompt: str,
        task: str | None = None,
        *,
        cost_weight: float | None = None,
        quality_target: float | None = None,
    ) -> LearnedChoice:
        scores, costs = self.predict(prompt, task)
        return pick(self.models, scores, costs, cost_weight, quality_target)


def pick(
    models: list[str],
    scores: list[float],
    costs: list[float],
    cost_weight: float | None,
    quality_target: float | None,
) -> LearnedChoice:
    """The decision rule, one place for the router, the CLI and the evaluation."""
    indices = range(len(models))
    if quality_target is not None:
        good = [i for i in indices if scores[i] >= quality_target]
        if good:
            best = min(good, key=lambda i: (costs[i], -scores[i]))
        else:
            best = max(indices, key=lambda i: (scores[i], -costs[i]))
    else:
        weight = cost_weight or 0.0
        best = max(indices, key=lambda i: (scores[i] - weight * costs[i], -costs[i]))
    return LearnedChoice(models[best], scores[best], costs[best])


class LearnedScorer:
    """The probability that `model`'s answer to a prompt is good enough; a cascade scorer
    with the (task, input, output) signature of `llmrouter.router.scoring.Scorer`."""

    def __init__(self, model: str, linear: _Linear, meta: dict[str, Any]) -> None:
        self.model = model
        self._linear = linear
        self.meta = meta

    def probability(self, prompt: str, answer: str, task: str | None = None) -> float:
        return self._linear.predict({"prompt": prompt, "answer": answer}, task)[0]

    def __call__(self, task: str, text: str, output: str) -> float | None:
        return self.probability(text, output, task)


def _read(path: Path, kind: str) -> dict[str, Any]:
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the learned {kind} {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not a learned {kind} (not JSON: {exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("kind") != kind:
        raise ConfigError(f"{path} is not a learned {kind} file (format {FORMAT}, kind {kind})")
    if raw.get("version") not in READABLE_VERSIONS:
        raise ConfigError(f"{path}: unsupported learned {kind} version {raw.get('version')!r}")
    return raw


def _linear_from(raw: dict[str, Any], path: Path) -> _Linear:
    np = numpy_module()
    try:
        spec = FeatureSpec.from_json(raw["features"])
        predictors = [
            Predictor(p["kind"], float(p["intercept"]), float(p["low"]), float(p["high"]))
            for p in raw["predictors"]
        ]
        columns = [decode_weights(p["weights"], spec.dimension) for p in raw["predictors"]]
    except (KeyError, TypeError, ValueError, LLMRouterError) as exc:
        raise ConfigError(f"{path} is damaged: {exc}") from None
    return _Linear(spec, predictors, np.ascontiguousarray(np.stack(columns, axis=1)))


def load_learned_router(path: Path) -> LearnedRouter:
    raw = _read(path, "router")
    linear = _linear_from(raw, path)
    models = [str(m) for m in raw.get("models", [])]
    if len(linear.predictors) != 2 * len(models) or not models:
        raise ConfigError(f"{path} is damaged: predictors do not match its models")
    return LearnedRouter(models, linear, raw.get("training", {}))


def load_learned_scorer(path: Path) -> LearnedScorer:
    raw = _read(path, "scorer")
    linear = _linear_from(raw, path)
    if len(linear.predictors) != 1:
        raise ConfigError(f"{path} is damaged: a scorer has exactly one predictor")
    return LearnedScorer(str(raw.get("model")), linear, raw.get("training", {}))


def saved_document(
    kind: Literal["router", "scorer"],
    spec: FeatureSpec,
    predictors: list[tuple[Predictor, Any]],
    extra: dict[str, Any],
) -> bytes:
    """The JSON file for a trained router or scorer (written by the training code)."""
    document = {
        "format": FORMAT,
        "version": spec.version,
        "kind": kind,
        **extra,
        "features": spec.to_json(),
        "predictors": [
            {**p.to_json(), "weights": encode_weights(weights)} for p, weights in predictors
        ],
    }
    return orjson.dumps(document)


def load_learned_routes(config: RouterConfig) -> dict[str, LearnedRouter]:
    """Load every learned route's router once, at start-up; a missing file, a damaged one
    or a router model the route does not map to a catalog name stops start-up."""
    from llmrouter.router.config import LearnedRoute

    loaded: dict[str, LearnedRouter] = {}
    for name, task in config.tasks.items():
        routes: list[tuple[str, Any]] = [(f"tasks.{name}.route", task.route)]
        routes += [(f"tasks.{name}.tiers.{t.value}", r) for t, r in task.tiers.items()]
        routes += [(f"tasks.{name}.batch", task.batch)] if task.batch is not None else []
        if task.budget is not None:
            routes.append((f"tasks.{name}.budget.downgrade_to", task.budget.downgrade_to))
        for where, route in routes:
            if not isinstance(route, LearnedRoute):
                continue
            key = str(route.router)
            if key not in loaded:
                try:
                    loaded[key] = load_learned_router(route.router)
                except ConfigError as exc:
                    raise ConfigError(str(exc), key=f"{where}.router") from None
            unmapped = [m for m in loaded[key].models if m not in route.models]
            if unmapped:
                raise ConfigError(
                    f"the router's models {', '.join(unmapped)} have no catalog name here",
                    key=f"{where}.models",
                )
    return loaded

"""A learned router and a learned cascade scorer, as the workers use them at decision time.

Training lives in `llmrouter.evaluation.learn`; this module only loads what it saved and
predicts. The saved file is JSON (no pickle, nothing executable): the feature settings,
and per model linear weights stored as base64 float32 arrays over hashed features. The
features are computed here, in pure Python, so training and serving share one definition.
numpy does the dot products; it ships with the `learn` extra (`pip install 'llmrouter[learn]'`).
"""

from __future__ import annotations

import base64
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from llmrouter.core.errors import ConfigError, LLMRouterError
from llmrouter.core.optional import require

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

#: the `format` field of every saved router or scorer file
FORMAT = "llmrouter.learned"
_VERSION = 1

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
#: dense numeric features appended after the hashed block, each on a comparable scale
NUMERIC_FEATURES = (
    "log_chars",
    "log_words",
    "numbers",
    "digit_share",
    "sentences",
    "questions",
    "bias",
)
#: dense features relating an answer to its prompt (scorers only)
CROSS_FEATURES = ("number_coverage", "arithmetic_checks", "arithmetic_errors", "final_in_prompt")
_ARITHMETIC = re.compile(
    r"(-?\d[\d,]*(?:\.\d+)?)\s*([-+*/x×÷])\s*(-?\d[\d,]*(?:\.\d+)?)\s*=\s*\$?(-?\d[\d,]*(?:\.\d+)?)"
)


def _numpy() -> Any:
    return require("numpy", purpose="a learned router")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """How a text becomes a sparse vector: hashed word and character n-grams, each group
    l2-normalised, the task tag, and a few numeric counts. `fields` names the texts that
    are featurised (`prompt`, and `answer` for a scorer), each in its own hash space."""

    hash_bits: int = 18
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 4)
    fields: tuple[str, ...] = ("prompt",)

    @property
    def hashed(self) -> int:
        return 1 << self.hash_bits

    @property
    def dimension(self) -> int:
        return self.hashed + len(NUMERIC_FEATURES) * len(self.fields) + len(self.cross)

    @property
    def cross(self) -> tuple[str, ...]:
        return CROSS_FEATURES if {"prompt", "answer"} <= set(self.fields) else ()

    def to_json(self) -> dict[str, Any]:
        return {
            "hash_bits": self.hash_bits,
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "fields": list(self.fields),
            "numeric": list(NUMERIC_FEATURES),
            "cross": list(self.cross),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeatureSpec:
        if list(raw.get("numeric", NUMERIC_FEATURES)) != list(NUMERIC_FEATURES):
            raise LLMRouterError("the saved numeric features differ from this version's")
        spec = cls(
            hash_bits=int(raw["hash_bits"]),
            word_ngrams=(int(raw["word_ngrams"][0]), int(raw["word_ngrams"][1])),
            char_ngrams=(int(raw["char_ngrams"][0]), int(raw["char_ngrams"][1])),
            fields=tuple(str(f) for f in raw["fields"]),
        )
        if list(raw.get("cross", spec.cross)) != list(spec.cross):
            raise LLMRouterError("the saved answer features differ from this version's")
        return spec


def _group(grams: list[bytes], seed: int, mask: int, into: tuple[list[int], list[float]]) -> None:
    """Add the hashed n-grams of one group with their counts, scaled to unit length."""
    counts = Counter(map(zlib.crc32, grams, repeat(seed)))
    scale = 1.0 / math.hypot(*counts.values())  # the l2 norm, summed in C
    into[0].extend([h & mask for h in counts])
    into[1].extend([c * scale for c in counts.values()])


def _numeric(text: str, words: int) -> list[float]:
    chars = len(text)
    digits = sum(map(str.isdigit, text))
    return [
        math.log1p(chars) / 8.0,
        math.log1p(words) / 6.0,
        math.log1p(len(_NUMBER.findall(text))) / 3.0,
        digits / chars if chars else 0.0,
        math.log1p(len(_SENTENCE_END.findall(text))) / 3.0,
        math.log1p(text.count("?")) / 2.0,
        1.0,
    ]


def _value(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _arithmetic(answer: str) -> tuple[int, int]:
    """(checked, wrong): the `a op b = c` steps of an answer, recomputed."""
    checked = wrong = 0
    for a, op, b, c in _ARITHMETIC.findall(answer):
        x, y, z = _value(a), _value(b), _value(c)
        if x is None or y is None or z is None or (op in "/÷" and y == 0):
            continue
        if op == "+":
            exact = x + y
        elif op == "-":
            exact = x - y
        elif op in "*x×":
            exact = x * y
        else:
            exact = x / y
        checked += 1
        wrong += abs(exact - z) > 0.01 * max(1.0, abs(exact))
    return checked, wrong


def _cross(prompt: str, answer: str) -> list[float]:
    """How an answer uses its prompt's numbers, and whether its arithmetic holds."""
    given = {v for v in map(_value, _NUMBER.findall(prompt)) if v is not None}
    found = [v for v in map(_value, _NUMBER.findall(answer)) if v is not None]
    used = len(given & set(found)) / len(given) if given else 1.0
    checked, wrong = _arithmetic(answer)
    final_given = 1.0 if found and found[-1] in given else 0.0
    return [used, math.log1p(checked) / 2.0, math.log1p(wrong), final_given]


def featurize(spec: FeatureSpec, texts: dict[str, str], task: str | None) -> tuple[Any, Any]:
    """The sparse feature vector of one example (a prompt, maybe with an answer) as
    (indices, values) arrays; an index may repeat, and repeats add up."""
    np = _numpy()
    mask = spec.hashed - 1
    into: tuple[list[int], list[float]] = ([], [])
    numeric: list[float] = []
    for field in spec.fields:
        text = texts.get(field, "")
        low = text.lower()
        words = [w.encode() for w in _WORD.findall(low)]
        low_w, high_w = spec.word_ngrams
        grams = [
            b" ".join(words[i : i + n])
            for n in range(low_w, high_w + 1)
            for i in range(len(words) - n + 1)
        ]
        padded = (" " + " ".join(low.split()) + " ").encode()
        low_c, high_c = spec.char_ngrams
        chars = [
            padded[i : i + n] for n in range(low_c, high_c + 1) for i in range(len(padded) - n + 1)
        ]
        for kind, group in ((b"w", grams), (b"c", chars)):
            if group:
                _group(group, zlib.crc32(field.encode() + b"\x00" + kind), mask, into)
        numeric += _numeric(text, len(words))
    if spec.cross:
        numeric += _cross(texts.get("prompt", ""), texts.get("answer", ""))
    if task:
        into[0].append(zlib.crc32(b"task\x00" + task.encode()) & mask)
        into[1].append(1.0)
    into[0].extend(range(spec.hashed, spec.hashed + len(numeric)))
    into[1].extend(numeric)
    return np.array(into[0], dtype=np.int64), np.array(into[1], dtype=np.float32)


def encode_weights(weights: Any) -> dict[str, str]:
    """A weight vector as its non-zero entries: base64 of little-endian int32 indices and
    float32 values (compact, and nothing in it can execute)."""
    np = _numpy()
    dense = np.asarray(weights, dtype="<f4")
    (nonzero,) = np.nonzero(dense)
    return {
        "indices": base64.b64encode(nonzero.astype("<i4").tobytes()).decode(),
        "values": base64.b64encode(dense[nonzero].tobytes()).decode(),
    }


def decode_weights(raw: dict[str, str], size: int) -> npt.NDArray[np.float32]:
    np = _numpy()
    indices = np.frombuffer(base64.b64decode(raw["indices"]), dtype="<i4")
    values = np.frombuffer(base64.b64decode(raw["values"]), dtype="<f4")
    if indices.shape != values.shape or (
        indices.size and not 0 <= indices.min() <= indices.max() < size
    ):
        raise LLMRouterError("a weight array does not fit the feature space")
    dense = np.zeros(size, dtype=np.float32)
    dense[indices] = values
    return dense  # type: ignore[no-any-return]


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
    if raw.get("version") != _VERSION:
        raise ConfigError(f"{path}: unsupported learned {kind} version {raw.get('version')!r}")
    return raw


def _linear_from(raw: dict[str, Any], path: Path) -> _Linear:
    np = _numpy()
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
        "version": _VERSION,
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

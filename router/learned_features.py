"""The features of a learned router: what training and serving compute from a prompt
(and, for a scorer, the answer), and how linear weights over them are stored.

One definition for both sides, in pure Python: hashed word and character n-grams, a few
counts, the task tag. numpy builds the arrays; it ships with the `learn` extra.

Two weights shape what a regularised linear model makes of them: `task_weight` is the
task tag's value (a large one costs the model little regularisation to give each task its
own level, so that the per-task means are its starting point), `text_weight` scales the
n-grams and the counts (a small one keeps the prompt's words to corrections of that level;
0 leaves a per-task prior). Files saved before these existed read as 1 and 1.

Version 3 adds two options, off in files without them: `task_numeric` gives each task its
own copy of the numeric counts (so a score can depend on a prompt's length differently in
each task), and `tasks` gives each named task a tag of its own after the numeric block
instead of a hashed one (no collision with an n-gram; a task not named gets no tag), and
`task_ngrams` adds for a named task a second copy of the n-grams hashed with the task (so
the words can mean something different in each task).
"""

from __future__ import annotations

import base64
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

from llmrouter.core.errors import LLMRouterError
from llmrouter.core.optional import require

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CROSS_FEATURES",
    "FORMAT",
    "NUMERIC_FEATURES",
    "READABLE_VERSIONS",
    "VERSION",
    "FeatureSpec",
    "decode_weights",
    "encode_weights",
    "featurize",
    "numpy_module",
    "task_index",
]

#: the `format` field of every saved router or scorer file
FORMAT = "llmrouter.learned"
#: the newest file version: 3 with per-task numeric counts, 2 when the feature weights
#: differ from 1 (an older reader would ignore either and mispredict, so it must refuse the
#: file), else 1
VERSION = 3
#: the versions this code reads
READABLE_VERSIONS = (1, 2, 3)

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


def numpy_module() -> Any:
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
    task_weight: float = 1.0
    text_weight: float = 1.0
    task_numeric: bool = False
    tasks: tuple[str, ...] = ()
    task_ngrams: bool = False

    @property
    def version(self) -> int:
        """The file version a router or scorer with these features is saved as."""
        if self.task_numeric or self.tasks or self.task_ngrams:
            return VERSION
        return 1 if (self.task_weight, self.text_weight) == (1.0, 1.0) else 2

    @property
    def hashed(self) -> int:
        return 1 << self.hash_bits

    @property
    def dimension(self) -> int:
        dense = len(NUMERIC_FEATURES) * len(self.fields) + len(self.cross)
        return self.hashed + dense + len(self.tasks)

    @property
    def cross(self) -> tuple[str, ...]:
        return CROSS_FEATURES if {"prompt", "answer"} <= set(self.fields) else ()

    def to_json(self) -> dict[str, Any]:
        weights = {"task_weight": self.task_weight, "text_weight": self.text_weight}
        return {
            "hash_bits": self.hash_bits,
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "fields": list(self.fields),
            **(weights if self.version > 1 else {}),
            **({"task_numeric": True} if self.task_numeric else {}),
            **({"tasks": list(self.tasks)} if self.tasks else {}),
            **({"task_ngrams": True} if self.task_ngrams else {}),
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
            task_weight=float(raw.get("task_weight", 1.0)),
            text_weight=float(raw.get("text_weight", 1.0)),
            task_numeric=bool(raw.get("task_numeric", False)),
            tasks=tuple(str(t) for t in raw.get("tasks", ())),
            task_ngrams=bool(raw.get("task_ngrams", False)),
        )
        if not (
            math.isfinite(spec.task_weight)
            and math.isfinite(spec.text_weight)
            and spec.task_weight >= 0
            and spec.text_weight >= 0
        ):
            raise LLMRouterError("the saved feature weights must be finite and not negative")
        if list(raw.get("cross", spec.cross)) != list(spec.cross):
            raise LLMRouterError("the saved answer features differ from this version's")
        return spec


def _group(
    grams: list[bytes],
    seed: int,
    mask: int,
    into: tuple[list[int], list[float]],
    length: float = 1.0,
) -> None:
    """Add the hashed n-grams of one group with their counts, scaled to `length`."""
    counts = Counter(map(zlib.crc32, grams, repeat(seed)))
    scale = length / math.hypot(*counts.values())  # the l2 norm, summed in C
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


def _per_task(
    field: str, task: str, counts: list[float], mask: int, into: tuple[list[int], list[float]]
) -> None:
    """The numeric counts again, each at an index hashed from the task and the count's name."""
    for name, count in zip(NUMERIC_FEATURES, counts, strict=False):
        into[0].append(zlib.crc32(f"task-numeric\x00{task}\x00{field}\x00{name}".encode()) & mask)
        into[1].append(count)


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
    np = numpy_module()
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
                seed = zlib.crc32(field.encode() + b"\x00" + kind)
                _group(group, seed, mask, into, spec.text_weight)
                if spec.task_ngrams and task in spec.tasks:  # the task's own copy
                    _group(group, zlib.crc32(task.encode(), seed), mask, into, spec.text_weight)
        counts = _numeric(text, len(words))
        if spec.text_weight != 1.0:  # the bias (last) stays 1
            counts = [v * spec.text_weight for v in counts[:-1]] + counts[-1:]
        numeric += counts
        if spec.task_numeric and task:
            _per_task(field, task, counts[:-1], mask, into)
    if spec.cross:
        numeric += _cross(texts.get("prompt", ""), texts.get("answer", ""))
    tag = task_index(spec, task) if task else None
    if tag is not None:
        into[0].append(tag)
        into[1].append(spec.task_weight)
    into[0].extend(range(spec.hashed, spec.hashed + len(numeric)))
    into[1].extend(numeric)
    return np.array(into[0], dtype=np.int64), np.array(into[1], dtype=np.float32)


def task_index(spec: FeatureSpec, task: str) -> int | None:
    """Where a task's tag sits in the feature vector (its value is `spec.task_weight`);
    None for a task that `spec.tasks` does not name."""
    if spec.tasks:
        if task not in spec.tasks:
            return None
        return spec.dimension - len(spec.tasks) + spec.tasks.index(task)
    return zlib.crc32(b"task\x00" + task.encode()) & (spec.hashed - 1)


def encode_weights(weights: Any) -> dict[str, str]:
    """A weight vector as its non-zero entries: base64 of little-endian int32 indices and
    float32 values (compact, and nothing in it can execute)."""
    np = numpy_module()
    dense = np.asarray(weights, dtype="<f4")
    (nonzero,) = np.nonzero(dense)
    return {
        "indices": base64.b64encode(nonzero.astype("<i4").tobytes()).decode(),
        "values": base64.b64encode(dense[nonzero].tobytes()).decode(),
    }


def decode_weights(raw: dict[str, str], size: int) -> npt.NDArray[np.float32]:
    np = numpy_module()
    indices = np.frombuffer(base64.b64decode(raw["indices"]), dtype="<i4")
    values = np.frombuffer(base64.b64decode(raw["values"]), dtype="<f4")
    if indices.shape != values.shape or (
        indices.size and not 0 <= indices.min() <= indices.max() < size
    ):
        raise LLMRouterError("a weight array does not fit the feature space")
    dense = np.zeros(size, dtype=np.float32)
    dense[indices] = values
    return dense  # type: ignore[no-any-return]

"""Confidence of an answer, for cascades: from the model's own JSON `confidence` field,
from a learned scorer file (`learned:PATH`), or from a scorer the user plugs in as
`module:function`."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from llmrouter.core.errors import ConfigError

__all__ = ["DEFAULT_SCORER", "Scorer", "json_confidence", "load_scorer", "parse_json_answer"]

#: the scorer a cascade uses unless it names one: the answer's own JSON `confidence`
DEFAULT_SCORER = "json_confidence"

#: (task, input, output) → confidence in 0..1, or None when it cannot tell
Scorer = Callable[[str, str, str], float | None]

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_json_answer(text: str) -> dict[str, Any] | None:
    """The JSON object in an answer, tolerating code fences and chatter around it."""
    match = _JSON_OBJECT.search(text)
    if not match:
        return None
    try:
        value = orjson.loads(match.group(0))
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def json_confidence(task: str, text: str, output: str) -> float | None:
    obj = parse_json_answer(output)
    if obj is None:
        return None
    value = obj.get("confidence")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(1.0, max(0.0, float(value)))


def load_scorer(spec: str) -> Scorer:
    if spec == DEFAULT_SCORER:
        return json_confidence
    if spec.startswith("learned:"):  # a file from `llmrouter learn train-scorer`
        from llmrouter.router.learned import load_learned_scorer

        return load_learned_scorer(Path(spec.removeprefix("learned:")))
    module_name, _, attr = spec.partition(":")
    try:
        scorer = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"cannot import scorer {spec!r} (expected module:function)") from None
    if not callable(scorer):
        raise ConfigError(f"scorer {spec!r} is not callable")
    return scorer  # type: ignore[no-any-return]

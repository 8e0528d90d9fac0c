"""The eval sets the simulator knows answers for, and finding the example inside a prompt.

Eval files are JSON: `{"task": str, "examples": [{"input": str, "category": str,
"difficulty": "easy|medium|hard", "expected_elements": [str, ...]} | {..., "label": str}]}`.

Prompts wrap an example's input in a template ("Question: {question}", "### Question\\n
{question}", "Text: \\"{text}\\""), so a prompt is matched by looking up each of its lines
(whole, after the first ": ", without quotes) against the first line of every known input,
then checking that the whole input occurs in the prompt; when several do (few-shot
prompts), the last one wins. That is a handful of dict lookups per prompt line,
independent of the number of examples.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)


class _ExampleFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str
    category: str = ""
    difficulty: str = "medium"
    expected_elements: list[str] | None = None
    label: str | None = None
    context: dict[str, Any] | None = None


class _EvalFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task: str
    examples: list[_ExampleFile]


@dataclass(frozen=True, slots=True)
class EvalExample:
    task: str
    input: str
    difficulty: str
    expected_elements: tuple[str, ...]
    label: str | None
    context: str = ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            return stripped
    return ""


def _line_keys(line: str) -> Iterable[str]:
    stripped = line.strip()
    if not stripped:
        return
    yield stripped
    _, sep, rest = stripped.partition(": ")
    if sep:
        rest = rest.strip()
        yield rest
        yield rest.strip("\"'`")
    yield stripped.strip("\"'`")


class EvalIndex:
    """Known eval inputs, indexed for matching inside prompts."""

    def __init__(self, examples: Iterable[EvalExample] = ()) -> None:
        self._by_text: dict[str, EvalExample] = {}
        self._by_first_line: dict[str, list[EvalExample]] = {}
        labels: dict[str, dict[str, None]] = {}
        for ex in examples:
            text = ex.input.strip()
            if not text or text in self._by_text:
                continue
            self._by_text[text] = ex
            self._by_first_line.setdefault(_first_line(text), []).append(ex)
            if ex.label is not None:
                labels.setdefault(ex.task, {})[ex.label] = None
        self._labels = {task: tuple(found) for task, found in labels.items()}

    def __len__(self) -> int:
        return len(self._by_text)

    def labels_of(self, task: str) -> tuple[str, ...]:
        """Every label the eval set of `task` uses, in first-seen order."""
        return self._labels.get(task, ())

    def find(self, texts: Sequence[str]) -> EvalExample | None:
        """The known example whose input occurs in one of `texts` (earlier texts first)."""
        for text in texts:
            exact = self._by_text.get(text.strip())
            if exact is not None:
                return exact
        for text in texts:
            best: EvalExample | None = None
            for line in text.splitlines():
                on_line: EvalExample | None = None
                for key in _line_keys(line):
                    for ex in self._by_first_line.get(key, ()):
                        longer = on_line is None or len(ex.input) > len(on_line.input)
                        if longer and ex.input.strip() in text:
                            on_line = ex
                if on_line is not None:
                    best = on_line  # the last input in a prompt is the one being asked
            if best is not None:
                return best
        return None

    @classmethod
    def load(cls, dirs: Iterable[Path]) -> EvalIndex:
        """Read every `*.json` eval set under `dirs`; files of another shape are skipped."""
        examples: list[EvalExample] = []
        for folder in dirs:
            if not folder.is_dir():
                log.warning("simulator: eval dir %s does not exist", folder)
                continue
            for file in sorted(folder.rglob("*.json")):
                try:
                    parsed = _EvalFile.model_validate(orjson.loads(file.read_bytes()))
                except (OSError, orjson.JSONDecodeError, ValidationError) as exc:
                    log.warning("simulator: skipping %s: %s", file, type(exc).__name__)
                    continue
                examples.extend(
                    EvalExample(
                        task=parsed.task,
                        input=ex.input,
                        difficulty=ex.difficulty.lower(),
                        expected_elements=tuple(ex.expected_elements or ()),
                        label=ex.label,
                        context="\n".join(
                            v for v in (ex.context or {}).values() if isinstance(v, str)
                        ),
                    )
                    for ex in parsed.examples
                )
        return cls(examples)

"""Eval sets: one JSON file per task, validated, with errors that name the file and example.

    {"task": "customer-support-qa",
     "labels": ["safe", "unsafe"],                        # optional: the closed label set
     "examples": [
       {"id": "csqa-001",                                   # optional: else "<task>-<n>"
        "input": "How do I reset my password?",
        "context": {"kb_context": "..."},                   # optional: prompt template variables
        "category": "common",                               # default "common"
        "difficulty": "easy",                               # easy | medium | hard (default medium)
        "expected_elements": ["check email", "reset link"]  # ... or
        "label": "safe",                                    # ... exactly one of the two
        "expect_refusal": true}                             # optional: see evaluation.safety
     ]}

An eval set is either labelled (every example has a `label`) or element-based (every example
has `expected_elements`): the primary quality metric of the whole set follows from that.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmrouter.core.errors import LLMRouterError
from llmrouter.core.resources import shared_path

__all__ = ["DatasetError", "EvalExample", "EvalSet", "Kind", "default_dataset", "load_dataset"]

#: where `llmrouter eval --task T` looks when no --dataset is given
EVALS_DIR = shared_path("evalsets")


class DatasetError(LLMRouterError, ValueError):
    """An eval set that cannot be read or does not follow the format."""


class Kind(StrEnum):
    LABELLED = "labelled"
    ELEMENTS = "elements"


class EvalExample(BaseModel):
    # A misspelt key (say `expected_element`) must fail loudly, not silently score 0.
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ""
    input: str  # may be empty: "the user sent nothing" is an edge case worth testing
    context: dict[str, Any] = Field(default_factory=dict)
    category: str = "common"
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    expected_elements: list[str] | None = Field(default=None, min_length=1)
    label: str | None = Field(default=None, min_length=1)
    expect_refusal: bool | None = None

    @model_validator(mode="after")
    def _one_kind_of_truth(self) -> EvalExample:
        if (self.expected_elements is None) == (self.label is None):
            raise ValueError("needs exactly one of expected_elements or label")
        return self


class EvalSet(BaseModel):
    # Header fields beyond these (version, description, ...) are documentation: ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)

    task: str = Field(min_length=1)
    labels: list[str] | None = None
    examples: list[EvalExample] = Field(min_length=1)

    @property
    def kind(self) -> Kind:
        return Kind.LABELLED if self.examples[0].label is not None else Kind.ELEMENTS

    def limited(self, limit: int | None) -> EvalSet:
        """The first `limit` examples (file order), for quick runs."""
        if limit is None or limit >= len(self.examples):
            return self
        return self.model_copy(update={"examples": self.examples[:limit]})


def default_dataset(task: str) -> Path:
    return EVALS_DIR / f"{task}.json"


def load_dataset(path: Path, *, task: str | None = None) -> EvalSet:
    """Read and validate one eval set; with `task`, also check that the file is for it."""
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise DatasetError(f"cannot read eval set {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON: {exc}") from None
    try:
        dataset = EvalSet.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(_describe(exc, raw, path)) from None
    dataset = _with_ids(dataset)
    _check_consistent(dataset, path)
    if task is not None and dataset.task != task:
        raise DatasetError(f"{path} is the eval set of task {dataset.task!r}, not {task!r}")
    return dataset


def _describe(exc: ValidationError, raw: Any, path: Path) -> str:
    """The first problem, located as `file: example N (id X): field: message`."""
    err = exc.errors(include_url=False)[0]
    loc = list(err["loc"])
    where = str(path)
    if len(loc) >= 2 and loc[0] == "examples" and isinstance(loc[1], int):
        index = loc[1]
        where += f": example {index + 1}{_id_of(raw, index)}"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc)
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key (misspelt, or not part of the format)"
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {field + ': ' if field else ''}{message}{suffix}"


def _id_of(raw: Any, index: int) -> str:
    try:
        found = raw["examples"][index]["id"]
    except (KeyError, IndexError, TypeError):
        return ""
    return f" (id {found})" if isinstance(found, str) else ""


def _with_ids(dataset: EvalSet) -> EvalSet:
    """Examples without an id get `<task>-<n>` (1-based), so every result row is traceable."""
    examples = [
        ex if ex.id else ex.model_copy(update={"id": f"{dataset.task}-{n:03d}"})
        for n, ex in enumerate(dataset.examples, start=1)
    ]
    return dataset.model_copy(update={"examples": examples})


def _check_consistent(dataset: EvalSet, path: Path) -> None:
    kind = dataset.kind
    seen: set[str] = set()
    for n, ex in enumerate(dataset.examples, start=1):
        where = f"{path}: example {n} (id {ex.id})"
        if (ex.label is not None) != (kind is Kind.LABELLED):
            raise DatasetError(
                f"{where}: mixes labels and expected_elements; an eval set is one or the other"
            )
        if ex.id in seen:
            raise DatasetError(f"{where}: duplicate id")
        seen.add(ex.id)
        if dataset.labels is not None and ex.label is not None and ex.label not in dataset.labels:
            raise DatasetError(f"{where}: label {ex.label!r} is not one of {dataset.labels}")

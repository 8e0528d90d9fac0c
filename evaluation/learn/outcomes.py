"""The outcomes format: JSON Lines, one line per prompt × model, the training data of a
learned router.

    {"prompt_id": "q1", "prompt": "What is 2+2?", "task": "math", "model": "small",
     "score": 1.0, "cost_usd": 0.00002, "answer": "4"}

`score` is 0..1 (higher is better), `cost_usd` what that answer cost; `task` and `answer`
are optional. Every line of a prompt repeats the same `prompt` text. A bad line is reported
with its line number, and nothing is read from a file that has one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmrouter.core.errors import LLMRouterError

__all__ = ["Outcome", "OutcomeSet", "OutcomesError", "read_outcomes", "write_outcomes"]

#: a file with more bad lines than this stops listing them
_MAX_REPORTED = 10


class OutcomesError(LLMRouterError, ValueError):
    """An outcomes file that cannot be used; the message names the file and line."""


class Outcome(BaseModel):
    """One line: how well `model` answered `prompt`, and what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_id: str = Field(min_length=1)
    prompt: str
    task: str | None = None
    model: str = Field(min_length=1)
    score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    cost_usd: float = Field(ge=0.0, allow_inf_nan=False)
    answer: str | None = None


@dataclass
class OutcomeSet:
    """Outcomes as matrices: row i is prompt `ids[i]`, column j is model `models[j]`;
    NaN where a model has no outcome for a prompt."""

    ids: list[str]
    prompts: list[str]
    tasks: list[str | None]
    models: list[str]
    scores: list[list[float]]
    costs: list[list[float]]
    answers: list[list[str | None]]
    sha256: str
    lines: int = 0
    source: str = ""
    _row: dict[str, int] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise OutcomesError(
                f"{self.source}: no outcomes for model {model!r} (has: {', '.join(self.models)})"
            ) from None

    def select(self, models: Sequence[str]) -> OutcomeSet:
        """Only `models`, in that order, and only the prompts every one of them answered."""
        columns = [self.column(m) for m in models]
        rows = [
            i
            for i in range(len(self.ids))
            if all(not math.isnan(self.scores[i][j]) for j in columns)
        ]
        return self.subset(rows, columns)

    def subset(self, rows: Sequence[int], columns: Sequence[int] | None = None) -> OutcomeSet:
        cols = list(range(len(self.models))) if columns is None else list(columns)
        return OutcomeSet(
            ids=[self.ids[i] for i in rows],
            prompts=[self.prompts[i] for i in rows],
            tasks=[self.tasks[i] for i in rows],
            models=[self.models[j] for j in cols],
            scores=[[self.scores[i][j] for j in cols] for i in rows],
            costs=[[self.costs[i][j] for j in cols] for i in rows],
            answers=[[self.answers[i][j] for j in cols] for i in rows],
            sha256=self.sha256,
            lines=self.lines,
            source=self.source,
        )


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def read_outcomes(path: Path) -> OutcomeSet:
    """Read and check a whole file; raise OutcomesError listing the bad lines."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OutcomesError(f"cannot read outcomes {path}: {exc.strerror}") from None
    problems: list[str] = []
    records: list[tuple[int, Outcome]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw: Any = orjson.loads(line)
            if not isinstance(raw, dict):
                raise ValueError("a line must be a JSON object")
            records.append((number, Outcome.model_validate(raw)))
        except orjson.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg})")
        except ValidationError as exc:
            problems.append(f"{path}:{number}: {_problem(exc)}")
        except ValueError as exc:
            problems.append(f"{path}:{number}: {exc}")
    outcomes = _assemble(records, path, problems)
    if problems:
        shown = problems[:_MAX_REPORTED]
        more = len(problems) - len(shown)
        tail = f"\n... and {more} more bad line(s)" if more else ""
        raise OutcomesError("bad outcomes:\n" + "\n".join(shown) + tail)
    if not outcomes.ids:
        raise OutcomesError(f"{path}: no outcomes in the file")
    outcomes.sha256 = hashlib.sha256(data).hexdigest()
    outcomes.source = str(path)
    return outcomes


def _assemble(records: list[tuple[int, Outcome]], path: Path, problems: list[str]) -> OutcomeSet:
    models = list(dict.fromkeys(r.model for _, r in records))
    column = {m: j for j, m in enumerate(models)}
    out = OutcomeSet([], [], [], models, [], [], [], sha256="", lines=len(records))
    first_line: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    nan = float("nan")
    for number, record in records:
        row = out._row.get(record.prompt_id)
        if row is None:
            row = out._row[record.prompt_id] = len(out.ids)
            first_line[record.prompt_id] = number
            out.ids.append(record.prompt_id)
            out.prompts.append(record.prompt)
            out.tasks.append(record.task)
            out.scores.append([nan] * len(models))
            out.costs.append([nan] * len(models))
            out.answers.append([None] * len(models))
        elif record.prompt != out.prompts[row] or record.task != out.tasks[row]:
            problems.append(
                f"{path}:{number}: prompt {record.prompt_id!r} has another text or task than "
                f"on line {first_line[record.prompt_id]}"
            )
            continue
        key = (record.prompt_id, record.model)
        if key in seen:
            problems.append(
                f"{path}:{number}: a second outcome of model {record.model!r} for prompt "
                f"{record.prompt_id!r} (first on line {seen[key]})"
            )
            continue
        seen[key] = number
        j = column[record.model]
        out.scores[row][j] = record.score
        out.costs[row][j] = record.cost_usd
        out.answers[row][j] = record.answer
    return out


def write_outcomes(outcomes: Iterable[Outcome], path: Path) -> int:
    """Write outcomes as JSON Lines; returns how many lines were written."""
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for outcome in outcomes:
                out.write(orjson.dumps(outcome.model_dump(exclude_none=True)) + b"\n")
                count += 1
    except OSError as exc:
        raise OutcomesError(f"cannot write outcomes to {path}: {exc.strerror}") from None
    return count

"""How often each learned route picked each model, and what those requests cost: the part
of `llmrouter report` about `strategy: learned` routes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmrouter.schemas import LLMResult

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["LearnedPick", "learned_fields", "learned_picks", "learned_table"]


@dataclass(frozen=True)
class LearnedPick:
    task: str
    #: the catalog model the learned router chose
    model: str
    requests: int
    #: share of the task's learned decisions
    share: float
    cost_usd: Decimal
    #: requests answered by another model (the pick failed; a fallback answered)
    answered_elsewhere: int
    mean_predicted_score: float | None


def learned_picks(results: Iterable[LLMResult]) -> list[LearnedPick]:
    grouped: dict[tuple[str, str], list[LLMResult]] = defaultdict(list)
    for result in results:
        if result.learned_choice is not None:
            grouped[(result.task, result.learned_choice)].append(result)
    per_task: dict[str, int] = defaultdict(int)
    for (task, _), items in grouped.items():
        per_task[task] += len(items)
    picks = []
    for (task, model), items in sorted(grouped.items()):
        scores = [r.predicted_score for r in items if r.predicted_score is not None]
        picks.append(
            LearnedPick(
                task=task,
                model=model,
                requests=len(items),
                share=len(items) / per_task[task],
                cost_usd=sum((r.cost_usd for r in items), Decimal(0)),
                answered_elsewhere=sum(r.model != model for r in items),
                mean_predicted_score=sum(scores) / len(scores) if scores else None,
            )
        )
    return picks


def learned_table(picks: list[LearnedPick], format_usd: Any) -> Table:
    from rich.table import Table

    table = Table(title="Learned routes: how often each model was picked", title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("picked", no_wrap=True)
    for name in ("requests", "share", "cost", "answered by another", "mean predicted score"):
        table.add_column(name, justify="right")
    for pick in picks:
        table.add_row(
            pick.task,
            pick.model,
            str(pick.requests),
            f"{100 * pick.share:.1f}%",
            format_usd(pick.cost_usd),
            str(pick.answered_elsewhere),
            "n/a" if pick.mean_predicted_score is None else f"{pick.mean_predicted_score:.3f}",
        )
    return table


def learned_fields(picks: list[LearnedPick]) -> list[dict[str, Any]]:
    return [
        {
            "task": p.task,
            "model": p.model,
            "requests": p.requests,
            "share": p.share,
            "cost_usd": format(p.cost_usd.normalize(), "f"),
            "answered_elsewhere": p.answered_elsewhere,
            "mean_predicted_score": p.mean_predicted_score,
        }
        for p in picks
    ]

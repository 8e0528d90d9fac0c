"""Sample workloads drawn from the eval sets: the demo's traffic and the load generator's."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmrouter.core.resources import shared_path

__all__ = ["EVALS_DIR", "WorkItem", "load_examples", "sample_workload"]

EVALS_DIR = shared_path("evalsets")

# Typical daily volumes per task, used as traffic weights.
DEFAULT_MIX = {
    "sentiment-classification": 100_000,
    "moderation": 200_000,
    "email-summarization": 50_000,
    "customer-support-qa": 10_000,
    "product-description": 500,
    "legal-document-analysis": 200,
}


@dataclass(frozen=True, slots=True)
class WorkItem:
    task: str
    input: str
    context: dict[str, Any]
    user_tier: str | None = None
    priority: str | None = None
    metadata: dict[str, Any] | None = None


def load_examples(task: str, evals_dir: Path = EVALS_DIR) -> list[dict[str, Any]]:
    path = evals_dir / f"{task}.json"
    data = orjson.loads(path.read_bytes())
    return [e for e in data["examples"] if isinstance(e.get("input"), str) and e["input"].strip()]


def sample_workload(
    count: int,
    *,
    mix: dict[str, int] | None = None,
    seed: int = 7,
    evals_dir: Path = EVALS_DIR,
    min_per_task: int = 5,
) -> Iterator[WorkItem]:
    """`count` requests across tasks in proportion to `mix` (every task at least
    `min_per_task`), with the user tiers and priorities a real stream has."""
    rng = random.Random(seed)
    weights = mix or DEFAULT_MIX
    examples = {task: load_examples(task, evals_dir) for task in weights}
    total = sum(weights.values())
    quota = {t: max(min_per_task, round(count * w / total)) for t, w in weights.items()}
    for task, n in quota.items():
        pool = examples[task]
        for i in range(n):
            example = pool[rng.randrange(len(pool))]
            tier = rng.choices(["free", "paid", "enterprise", None], weights=[30, 40, 5, 25])[0]
            priority = "batch" if rng.random() < 0.1 else None
            yield WorkItem(
                task=task,
                input=example["input"],
                context=dict(example.get("context") or {}),
                user_tier=tier,
                priority=priority,
                metadata={"example": example.get("id", f"{task}-{i}")},
            )

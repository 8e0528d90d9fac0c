"""Learned routing over four models on a synthetic outcome set whose prompts decide which
model is good enough (`llmrouter.evaluation.learn.synthetic`): does the router recover
that structure, and how does it compare with the baselines?

    .venv/bin/python -m bench.learned_synthetic [--per-family N]

Trains on one draw of prompts and tests on another (other fillers of the same templates),
then prints which model the router picks per family at the set's cost weight, and the
evaluation table.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from pathlib import Path

from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.evaluate import evaluate
from llmrouter.evaluation.learn.outcomes import read_outcomes
from llmrouter.evaluation.learn.report import render_table
from llmrouter.evaluation.learn.train import train_router
from llmrouter.router.learned import load_learned_router

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=50, help="training prompts per family")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        train = read_outcomes(syn.write(Path(folder) / "train.jsonl", args.per_family, seed=1))
        test = read_outcomes(syn.write(Path(folder) / "test.jsonl", 50, seed=2))
        router = load_learned_router(train_router(train, Path(folder) / "router.json").path)
    rng = random.Random(3)
    print(f"picks per family at cost weight {syn.COST_WEIGHT:g} (100 new prompts each):\n")
    print("| family | cheapest good enough | " + " | ".join(syn.MODELS) + " |")
    print("|---|---|" + "---:|" * len(syn.MODELS))
    for family, expected in syn.CHEAPEST_GOOD.items():
        picks = Counter(
            router.choose(syn.prompt(family, rng), "assist", cost_weight=syn.COST_WEIGHT).model
            for _ in range(100)
        )
        print(f"| {family} | {expected} | " + " | ".join(str(picks[m]) for m in syn.MODELS) + " |")
    print()
    print(render_table(evaluate(router, test, train=train)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

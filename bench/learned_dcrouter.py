"""Learned routing over nine models and eleven tasks, on DCRouter's published outcomes.

    .venv/bin/python -m bench.learned_dcrouter [--per-task] [--data DIR] [--work DIR] [--task-anchored]

Reads `dcrouter_train.jsonl` and `dcrouter_test.jsonl` (already in the outcomes format)
from `../shared/data/routing/` beside the checkout unless `--data` names the folder; they
are never copied into the project. Trains the prior-anchored router on the training split
(evaluation/learn/train_prior.py: per model, the per-task prior as a fixed offset plus a
logistic regression of the prompt's hashed n-grams and per-task counts; its regularisation
chosen on a seeded validation split carved from the training split, never on the test
split; with `--per-task` each task gets its own copy of the n-grams and its own
regularisation, chosen by the task's validation AIQ, evaluation/learn/per_task.py) and
evaluates it on the test split against every single model, the per-task prior,
TF-IDF + logistic regression, the random router and the oracle. `--task-anchored` also
trains the earlier task-anchored router (task weight `--task-weight`, text weight chosen by
3-fold cross-validation among `--text-weights`; about twenty minutes). Prints the table;
the JSON is in --work.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import orjson

from llmrouter.evaluation.learn.evaluate import evaluate
from llmrouter.evaluation.learn.outcomes import read_outcomes
from llmrouter.evaluation.learn.report import render_table
from llmrouter.evaluation.learn.train import train_router
from llmrouter.evaluation.learn.train_prior import train_prior_router
from llmrouter.router.learned import FeatureSpec, load_learned_router

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "routing"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=None, help="keep the files here")
    parser.add_argument("--seed", type=int, default=0, help="of the validation split")
    parser.add_argument(
        "--per-task", action="store_true", help="each task its own n-grams and budget"
    )
    parser.add_argument("--task-anchored", action="store_true")
    parser.add_argument("--task-weight", type=float, default=5.0)
    parser.add_argument("--text-weights", default="0,0.1,0.3")
    args = parser.parse_args(argv)
    train_file, test_file = args.data / "dcrouter_train.jsonl", args.data / "dcrouter_test.jsonl"
    if not train_file.exists() or not test_file.exists():
        print(f"no dcrouter_train.jsonl / dcrouter_test.jsonl in {args.data}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="learned-dcrouter-"))
    work.mkdir(parents=True, exist_ok=True)
    train, test = read_outcomes(train_file), read_outcomes(test_file)
    started = time.monotonic()
    prior = train_prior_router(
        train, work / "router-prior.json", seed=args.seed, per_task=args.per_task
    )
    print(f"prior-anchored router trained in {time.monotonic() - started:.0f} s", flush=True)
    router = load_learned_router(prior.path)
    chosen = router.meta["prior_anchored"]
    if args.per_task:
        print(f"budgets chosen per task: {chosen['per_task_c']}", flush=True)
        print(f"validation AIQ per task and budget: {chosen['validation_aiq']}", flush=True)
    else:
        print(
            f"budget chosen: C = {chosen['c']} (validation Brier: {chosen['validation_brier']})",
            flush=True,
        )
    evaluation = evaluate(router, test, train=train)
    kind = "per-task prior-anchored" if args.per_task else "prior-anchored"
    evaluation.policies[0].name = f"learned, {kind}"
    if args.task_anchored:
        weights = [float(w) for w in args.text_weights.split(",") if w.strip()]
        started = time.monotonic()
        anchored = train_router(
            train,
            work / "router-anchored.json",
            spec=FeatureSpec(task_weight=args.task_weight),
            text_weights=weights,
        )
        print(f"task-anchored router trained in {time.monotonic() - started:.0f} s", flush=True)
        other = evaluate(load_learned_router(anchored.path), test).policies[0]
        other.name = "learned, task-anchored"
        evaluation.policies.insert(1, other)
    (work / "evaluation.json").write_bytes(
        orjson.dumps(evaluation.to_json(), option=orjson.OPT_INDENT_2)
    )
    print(f"train {len(train)} prompts, test {len(test)} prompts; files in {work}")
    print(render_table(evaluation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

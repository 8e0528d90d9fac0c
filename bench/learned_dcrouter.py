"""Learned routing over nine models and eleven tasks, on DCRouter's published outcomes.

    .venv/bin/python -m bench.learned_dcrouter [--data DIR] [--work DIR] [--text-weights 0,0.1,0.3]

Reads `dcrouter_train.jsonl` and `dcrouter_test.jsonl` (already in the outcomes format)
from `../shared/data/routing/` beside the checkout unless `--data` names the folder; they
are never copied into the project. Trains two routers on the training split — the
default features (`llmrouter learn train` with no options) and the task-anchored one
(a task tag of weight `--task-weight`, the prompt's text weight chosen by 3-fold
cross-validation on the training split among `--text-weights`) — and evaluates both on
the test split against every single model, the per-task prior, TF-IDF + logistic
regression, the random router and the oracle. Prints the table; the JSON is in --work.
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
from llmrouter.router.learned import FeatureSpec, load_learned_router

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "routing"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=None, help="keep the files here")
    parser.add_argument("--task-weight", type=float, default=5.0)
    parser.add_argument("--text-weights", default="0,0.1,0.3")
    parser.add_argument(
        "--skip-default", action="store_true", help="do not train the default-features router"
    )
    args = parser.parse_args(argv)
    train_file, test_file = args.data / "dcrouter_train.jsonl", args.data / "dcrouter_test.jsonl"
    if not train_file.exists() or not test_file.exists():
        print(f"no dcrouter_train.jsonl / dcrouter_test.jsonl in {args.data}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="learned-dcrouter-"))
    work.mkdir(parents=True, exist_ok=True)
    train, test = read_outcomes(train_file), read_outcomes(test_file)
    weights = [float(w) for w in args.text_weights.split(",") if w.strip()]
    started = time.monotonic()
    anchored = train_router(
        train,
        work / "router-anchored.json",
        spec=FeatureSpec(task_weight=args.task_weight),
        text_weights=weights,
    )
    print(f"task-anchored router trained in {time.monotonic() - started:.0f} s", flush=True)
    meta = load_learned_router(anchored.path)
    print(
        f"text weight chosen: {meta.spec.text_weight} "
        f"(3-fold Brier: {meta.meta.get('text_weight_brier')})",
        flush=True,
    )
    evaluation = evaluate(meta, test, train=train)
    evaluation.policies[0].name = "learned, task-anchored"
    if not args.skip_default:
        started = time.monotonic()
        default = train_router(train, work / "router-default.json")
        print(f"default router trained in {time.monotonic() - started:.0f} s", flush=True)
        other = evaluate(load_learned_router(default.path), test)
        first = other.policies[0]
        first.name = "learned, default features"
        evaluation.policies.insert(1, first)
    (work / "evaluation.json").write_bytes(
        orjson.dumps(evaluation.to_json(), option=orjson.OPT_INDENT_2)
    )
    print(f"train {len(train)} prompts, test {len(test)} prompts; files in {work}")
    print(render_table(evaluation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

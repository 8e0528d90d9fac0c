"""Learned routing on GSM8K: GPT-4 against Mixtral, on RouteLLM's published outcomes.

    .venv/bin/python -m bench.learned_gsm8k [--data PATH] [--work DIR] [--plot FILE]

Reads `gsm8k_responses.csv` (from `../shared/data/routing/` beside the checkout unless
`--data` names it; never copied into the project), drops the contaminated prompts listed
beside it, converts it to the outcomes format (score = the answer was correct; cost = list
price × tokens, tokens ≈ characters / 4 or tiktoken's count when installed), splits it
50/50 with a fixed seed, trains a router and a Mixtral cascade scorer on one half and
evaluates them against the baselines on the other. Prints the table and the JSON path.

List prices used (USD per million tokens, input / output): gpt-4-1106-preview 10 / 30,
Mixtral-8x7B-Instruct 0.6 / 0.6 (a typical hosted price).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import orjson

from llmrouter.evaluation.learn.evaluate import evaluate
from llmrouter.evaluation.learn.outcomes import Outcome, read_outcomes, write_outcomes
from llmrouter.evaluation.learn.report import render_table
from llmrouter.evaluation.learn.train import train_router, train_scorer
from llmrouter.router.learned import load_learned_router, load_learned_scorer

__all__ = ["PRICES_USD_PER_M", "convert", "main"]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "routing" / "gsm8k_responses.csv"
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
#: (input, output) list prices in USD per million tokens
PRICES_USD_PER_M = {STRONG: (10.0, 30.0), WEAK: (0.6, 0.6)}
SHORT = {STRONG: "gpt-4", WEAK: "mixtral"}
SEED = 12


def _token_counter() -> Callable[[str], int]:
    try:
        import tiktoken
    except ImportError:
        return lambda text: max(1, round(len(text) / 4))
    encoding = tiktoken.get_encoding("cl100k_base")
    return lambda text: len(encoding.encode(text))


def _contaminated(data: Path) -> set[str]:
    listing = data.with_name("gsm8k_contaminated_prompts.jsonl")
    if not listing.exists():
        return set()
    prompts = set()
    for line in listing.read_bytes().splitlines():
        if line.strip():
            value = orjson.loads(line)
            prompts.add(value["eval_prompt"] if isinstance(value, dict) else str(value))
    return prompts


def convert(data: Path) -> list[Outcome]:
    """The CSV as outcomes, two lines per prompt."""
    tokens = _token_counter()
    dropped = _contaminated(data)
    outcomes = []
    csv.field_size_limit(sys.maxsize)
    with data.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            prompt = row["prompt"]
            if prompt in dropped:
                continue
            for model in (WEAK, STRONG):
                answer = row[f"{model}_response"]
                price_in, price_out = PRICES_USD_PER_M[model]
                cost = (tokens(prompt) * price_in + tokens(answer) * price_out) / 1e6
                outcomes.append(
                    Outcome(
                        prompt_id=f"gsm8k-{number}",
                        prompt=prompt,
                        task="math",
                        model=SHORT[model],
                        score=1.0 if row[model].strip() == "True" else 0.0,
                        cost_usd=cost,
                        answer=answer,
                    )
                )
    return outcomes


def split(outcomes: list[Outcome], seed: int = SEED) -> tuple[list[Outcome], list[Outcome]]:
    ids = sorted({o.prompt_id for o in outcomes})
    random.Random(seed).shuffle(ids)
    train_ids = set(ids[: len(ids) // 2])
    return (
        [o for o in outcomes if o.prompt_id in train_ids],
        [o for o in outcomes if o.prompt_id not in train_ids],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=None, help="keep the files here")
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="learned-gsm8k-"))
    train_part, test_part = split(convert(args.data))
    write_outcomes(train_part, work / "train.jsonl")
    write_outcomes(test_part, work / "test.jsonl")
    train = read_outcomes(work / "train.jsonl")
    test = read_outcomes(work / "test.jsonl")
    train_router(train, work / "router.json")
    train_scorer(train, "mixtral", work / "scorer.json")
    evaluation = evaluate(
        load_learned_router(work / "router.json"),
        test,
        train=train,
        scorer=load_learned_scorer(work / "scorer.json"),
    )
    (work / "evaluation.json").write_bytes(
        orjson.dumps(evaluation.to_json(), option=orjson.OPT_INDENT_2)
    )
    print(f"train {len(train)} prompts, test {len(test)} prompts; files in {work}")
    print(render_table(evaluation))
    if args.plot is not None:
        from llmrouter.evaluation.learn.plot import plot_evaluation

        print(f"chart: {plot_evaluation(evaluation, args.plot)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The prior-anchored learned router: per model, the per-task prior as a fixed offset plus a
logistic regression of the prompt's features, its budget chosen on a validation split of
the training outcomes, saved as the usual linear router file (version 3)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.evaluate import evaluate
from llmrouter.evaluation.learn.outcomes import (
    Outcome,
    OutcomesError,
    OutcomeSet,
    read_outcomes,
    write_outcomes,
)
from llmrouter.evaluation.learn.train_prior import train_prior_router, validation_rows
from llmrouter.router.learned import FeatureSpec, load_learned_router

#: within each task two prompt families want different models (the words decide), and
#: the third task has the same words as "writing" but wants the large model (the task does)
TASK_OF = {"greeting": "writing", "translate": "writing", "legal": "expert", "proof": "expert"}
SPEC = FeatureSpec(hash_bits=14, task_numeric=True)


def prior_outcomes(per_family: int, seed: int) -> list[Outcome]:
    made = [
        o.model_copy(update={"task": TASK_OF[o.prompt_id.split("-")[1]]})
        for o in syn.outcomes(per_family, seed, prefix=f"s{seed}")
    ]
    hard = syn.SCORES["proof"]
    for o in syn.outcomes(per_family, seed + 100, prefix=f"h{seed}"):
        if o.prompt_id.split("-")[1] in ("greeting", "translate"):
            score = hard[syn.MODELS.index(o.model)]
            made.append(o.model_copy(update={"task": "hard-writing", "score": score}))
    return made


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[OutcomeSet, OutcomeSet, Path]:
    folder = tmp_path_factory.mktemp("prior")
    write_outcomes(prior_outcomes(16, seed=3), folder / "train.jsonl")
    write_outcomes(prior_outcomes(10, seed=4), folder / "test.jsonl")
    train = read_outcomes(folder / "train.jsonl")
    router = train_prior_router(train, folder / "router.json", spec=SPEC)
    return train, read_outcomes(folder / "test.jsonl"), router.path


def test_it_beats_the_prior_tfidf_and_the_best_single_model_on_held_out_prompts(
    trained: tuple[OutcomeSet, OutcomeSet, Path],
) -> None:
    train, test, router_file = trained
    ev = evaluate(load_learned_router(router_file), test, train=train)
    learned = ev.policy("learned")
    prior, tfidf = ev.policy("per-task prior"), ev.policy("TF-IDF + LR")
    assert learned.aiq > prior.aiq + 0.02
    assert learned.aiq > tfidf.aiq + 0.02
    best_quality, best_cost = max(ev.single.values())
    assert learned.quality_at_best_cost > best_quality - 1e-9
    assert learned.cost_to_match_best_usd is not None
    assert learned.cost_to_match_best_usd < best_cost


def test_the_budget_is_chosen_on_the_validation_split_and_saved(
    trained: tuple[OutcomeSet, OutcomeSet, Path],
) -> None:
    _, _, router_file = trained
    saved = orjson.loads(router_file.read_bytes())
    assert saved["version"] == 3
    assert saved["features"]["task_numeric"] is True
    chosen = saved["training"]["prior_anchored"]
    briers = {float(c): b for c, b in chosen["validation_brier"].items()}
    assert set(briers) == {0.0, 0.03, 0.1, 0.3, 1.0}
    assert chosen["c"] == min(briers, key=lambda c: briers[c])
    assert chosen["c"] > 0, "the words help here, so the prior alone must not win"
    assert briers[chosen["c"]] < briers[0.0]


def test_with_no_budget_it_serves_the_per_task_prior(
    trained: tuple[OutcomeSet, OutcomeSet, Path], tmp_path: Path
) -> None:
    train, _, _ = trained
    path = train_prior_router(train, tmp_path / "prior.json", spec=SPEC, cs=(0.0,), alpha=0.0)
    router = load_learned_router(path.path)
    for task in ("writing", "expert", "hard-writing"):
        rows = [i for i, t in enumerate(train.tasks) if t == task]
        scores, _ = router.predict("any prompt at all, words do not count", task)
        for j, model in enumerate(router.models):
            column = train.column(model)
            mean = sum(train.scores[i][column] for i in rows) / len(rows)
            assert scores[j] == pytest.approx(min(max(mean, 1e-3), 1 - 1e-3), abs=0.02)
    unseen, _ = router.predict("a prompt of a task never trained on", "unknown-task")
    overall, _ = router.predict("a prompt of a task never trained on", None)
    assert unseen == pytest.approx(overall)


def test_validation_split_is_seeded_and_per_task() -> None:
    tasks = ["a"] * 8 + ["b"] * 4 + [None] * 4 + ["lonely"]
    first = validation_rows(tasks, 0.25, seed=1)
    assert first.tolist() == validation_rows(tasks, 0.25, seed=1).tolist()
    assert [int(first[:8].sum()), int(first[8:12].sum()), int(first[12:16].sum())] == [2, 1, 1]
    assert not first[16], "a task of one prompt stays in training"


def test_bad_settings_are_refused(trained: tuple[OutcomeSet, OutcomeSet, Path]) -> None:
    train, _, router_file = trained
    with pytest.raises(OutcomesError, match="not negative"):
        train_prior_router(train, router_file.with_name("x.json"), cs=(-1.0, 1.0))
    with pytest.raises(OutcomesError, match="between 0 and 1"):
        validation_rows(["a", "a"], 1.5, seed=0)
    with pytest.raises(OutcomesError, match="at least two models"):
        train_prior_router(train, router_file.with_name("x.json"), models=["tiny"])


def test_per_task_budgets_keep_the_prior_where_words_do_not_help(
    trained: tuple[OutcomeSet, OutcomeSet, Path], tmp_path: Path
) -> None:
    train, test, _ = trained
    path = train_prior_router(train, tmp_path / "per-task.json", spec=SPEC, per_task=True).path
    saved = orjson.loads(path.read_bytes())
    assert saved["version"] == 3
    assert saved["features"]["task_ngrams"] is True
    assert saved["features"]["tasks"] == ["expert", "hard-writing", "writing"]
    chosen = saved["training"]["prior_anchored"]["per_task_c"]
    # The large model is right on every "hard-writing" prompt: words cannot improve on
    # the prior there, so that task keeps it; the families' words decide the other two.
    assert chosen["hard-writing"] == 0.0
    assert chosen["writing"] > 0
    assert chosen["expert"] > 0
    ev = evaluate(load_learned_router(path), test, train=train)
    learned = ev.policy("learned")
    assert learned.aiq > ev.policy("per-task prior").aiq + 0.02
    assert learned.aiq > ev.policy("TF-IDF + LR").aiq + 0.02

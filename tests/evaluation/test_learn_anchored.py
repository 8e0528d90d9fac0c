"""The task-anchored learned router: a strong task tag makes the per-task means its base,
the prompt's text weight is chosen by cross-validation on the training outcomes, and the
file format stays readable (version 1 files load as before; weights make a version 2)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.evaluate import evaluate
from llmrouter.evaluation.learn.outcomes import (
    Outcome,
    OutcomesError,
    read_outcomes,
    write_outcomes,
)
from llmrouter.evaluation.learn.select import choose_text_weight
from llmrouter.evaluation.learn.train import train_router
from llmrouter.router.learned import FeatureSpec, load_learned_router

#: two tasks of two prompt families each: a per-task prior must pick one model per task
TASK_OF = {"greeting": "writing", "translate": "writing", "legal": "expert", "proof": "expert"}


def _slice(path: Path, per_family: int, seed: int) -> Path:
    tasked = [
        o.model_copy(update={"task": TASK_OF[o.prompt_id.split("-")[1]]})
        for o in syn.outcomes(per_family, seed, prefix=f"s{seed}")
    ]
    write_outcomes(tasked, path)
    return path


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("anchored")
    train = _slice(folder / "train.jsonl", 12, seed=3)
    test = _slice(folder / "test.jsonl", 8, seed=4)
    router = train_router(
        read_outcomes(train),
        folder / "router.json",
        spec=FeatureSpec(hash_bits=14, task_weight=5.0),
        text_weights=(0.0, 0.3, 1.0),
    )
    return train, test, router.path


def test_the_trained_router_beats_the_per_task_prior_on_a_held_out_slice(
    anchored: tuple[Path, Path, Path],
) -> None:
    train, test, router_file = anchored
    router = load_learned_router(router_file)
    assert router.spec.text_weight > 0, "the families' words predict the scores"
    ev = evaluate(router, read_outcomes(test), train=read_outcomes(train))
    learned, prior = ev.policy("learned"), ev.policy("per-task prior")
    assert learned.aiq > prior.aiq + 0.02
    best_quality = max(q for q, _ in ev.single.values())
    assert learned.cost_to_match_best_usd is not None
    assert learned.cost_to_match_best_usd < min(
        c for q, c in ev.single.values() if q == best_quality
    )


def test_with_no_text_the_router_is_a_per_task_prior(tmp_path: Path) -> None:
    outcomes = read_outcomes(_slice(tmp_path / "train.jsonl", 12, seed=5))
    path = train_router(
        outcomes,
        tmp_path / "prior.json",
        spec=FeatureSpec(hash_bits=14, task_weight=5.0),
        text_weights=(0.0,),
    ).path
    router = load_learned_router(path)
    for task in ("writing", "expert"):
        rows = [i for i, t in enumerate(outcomes.tasks) if t == task]
        means = [sum(outcomes.scores[i][j] for i in rows) / len(rows) for j in range(4)]
        for text in ("Say hello to Ana.", "Prove that the harbour series diverges."):
            predicted, _ = router.predict(text, task)
            assert predicted == pytest.approx(means, abs=0.08)


def test_the_text_weight_is_chosen_on_the_training_outcomes_alone(tmp_path: Path) -> None:
    outcomes = read_outcomes(_slice(tmp_path / "train.jsonl", 10, seed=6))
    spec = FeatureSpec(hash_bits=14, task_weight=5.0)
    weight, losses = choose_text_weight(outcomes, list(syn.MODELS), spec, (0.0, 1.0))
    assert set(losses) == {0.0, 1.0}
    assert weight == 1.0
    assert losses[1.0] < losses[0.0]
    with pytest.raises(OutcomesError, match="not negative"):
        choose_text_weight(outcomes, list(syn.MODELS), spec, (-1.0,))


def test_file_versions_old_files_load_and_weights_are_kept(
    anchored: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    train, _, router_file = anchored
    saved = orjson.loads(router_file.read_bytes())
    assert saved["version"] == 2
    assert saved["features"]["task_weight"] == 5.0
    plain = train_router(
        read_outcomes(train), tmp_path / "plain.json", spec=FeatureSpec(hash_bits=14)
    ).path
    document = orjson.loads(plain.read_bytes())
    assert document["version"] == 1
    assert "task_weight" not in document["features"]  # what a version-1 reader expects
    assert load_learned_router(plain).spec.task_weight == 1.0
    saved["features"]["text_weight"] = -1.0
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(orjson.dumps(saved))
    with pytest.raises(ConfigError, match="not negative"):
        load_learned_router(damaged)
    saved["version"] = 4
    damaged.write_bytes(orjson.dumps(saved))
    with pytest.raises(ConfigError, match="unsupported"):
        load_learned_router(damaged)


def test_outcome_lines_keep_their_task() -> None:
    line = Outcome(prompt_id="p", prompt="x", task="writing", model="tiny", score=1.0, cost_usd=0.1)
    assert line.task == "writing"

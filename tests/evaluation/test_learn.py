"""Learned routing offline: the outcomes format, training and the saved file, the metrics on
hand-computed cases, the evaluation against baselines, and the `llmrouter learn` commands."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson
import pytest

from llmrouter.cli import run
from llmrouter.core.errors import ConfigError
from llmrouter.evaluation.learn import metrics
from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.evaluate import evaluate
from llmrouter.evaluation.learn.outcomes import Outcome, OutcomesError, read_outcomes
from llmrouter.evaluation.learn.train import train_router, train_scorer
from llmrouter.router.learned import (
    FeatureSpec,
    featurize,
    load_learned_router,
    load_learned_scorer,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(train outcomes, test outcomes, router) on the synthetic four-model set."""
    folder = tmp_path_factory.mktemp("learn")
    train = syn.write(folder / "train.jsonl", 25, seed=1)
    test = syn.write(folder / "test.jsonl", 15, seed=2)
    train_router(read_outcomes(train), folder / "router.json")
    return train, test, folder / "router.json"


# -- the format ----------------------------------------------------------------------------


def _line(**fields: object) -> bytes:
    base: dict[str, object] = {
        "prompt_id": "q1",
        "prompt": "hi",
        "model": "a",
        "score": 1.0,
        "cost_usd": 0.001,
    }
    return orjson.dumps({**base, **fields})


def test_bad_lines_are_reported_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                _line(),
                b"{not json",
                _line(prompt_id="q2", score=1.5),
                _line(prompt_id="q3", cost="x"),
                _line(model="a"),
                _line(prompt="another text", model="b"),
                b"[1, 2]",
            ]
        )
    )
    with pytest.raises(OutcomesError) as info:
        read_outcomes(path)
    message = str(info.value)
    assert f"{path}:2: not JSON" in message
    assert f"{path}:3: score: Input should be less than or equal to 1" in message
    assert f"{path}:4: cost: Extra inputs are not permitted" in message
    assert f"{path}:5: a second outcome of model 'a' for prompt 'q1' (first on line 1)" in message
    assert f"{path}:6: prompt 'q1' has another text or task than on line 1" in message
    assert f"{path}:7: a line must be a JSON object" in message


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"\n\n")
    with pytest.raises(OutcomesError, match="no outcomes"):
        read_outcomes(tmp_path / "empty.jsonl")
    with pytest.raises(OutcomesError, match="cannot read outcomes"):
        read_outcomes(tmp_path / "absent.jsonl")


def test_outcomes_become_matrices_with_gaps(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                _line(),
                _line(model="b", score=0.5, answer="x"),
                _line(prompt_id="q2", prompt="yo", task="chat"),
            ]
        )
    )
    got = read_outcomes(path)
    assert (got.ids, got.models, got.tasks) == (["q1", "q2"], ["a", "b"], [None, "chat"])
    assert got.scores[0] == [1.0, 0.5]
    assert got.answers[0] == [None, "x"]
    assert len(got.select(["a", "b"])) == 1, "q2 has no outcome of b"
    assert len(got.sha256) == 64


# -- features, training, the saved file -----------------------------------------------------


def test_features_are_stable_and_repeat_indices_add_up() -> None:
    spec = FeatureSpec(hash_bits=10)
    index, value = featurize(spec, {"prompt": "Hello hello world 42?"}, "chat")
    again_index, again_value = featurize(spec, {"prompt": "Hello hello world 42?"}, "chat")
    assert index.tolist() == again_index.tolist()
    assert value.tolist() == again_value.tolist()
    assert index.max() < spec.dimension
    other, _ = featurize(spec, {"prompt": "Hello hello world 42?"}, "math")
    assert set(index.tolist()) != set(other.tolist()), "the task tag is a feature"


def test_the_router_recovers_which_model_each_family_needs(
    trained: tuple[Path, Path, Path],
) -> None:
    router = load_learned_router(trained[2])
    rng = random.Random(5)
    for family, expected in syn.CHEAPEST_GOOD.items():
        picks = Counter(
            router.choose(syn.prompt(family, rng), "assist", cost_weight=syn.COST_WEIGHT).model
            for _ in range(20)
        )
        assert picks[expected] >= 18, (family, picks)
    hard = syn.prompt("proof", rng)
    assert router.choose(hard, "assist", cost_weight=0.0).model == "large"
    assert router.choose(hard, "assist", cost_weight=1e9).model == "tiny"
    easy = syn.prompt("greeting", rng)
    assert router.choose(easy, "assist", quality_target=0.9).model == "tiny"
    assert router.choose(hard, "assist", quality_target=0.9).model == "large"


def test_the_saved_router_is_plain_json_and_records_its_training(
    trained: tuple[Path, Path, Path],
) -> None:
    train, _, path = trained
    document = orjson.loads(path.read_bytes())
    assert document["format"] == "llmrouter.learned"
    assert document["kind"] == "router"
    assert document["models"] == list(syn.MODELS)
    assert document["training"]["sha256"] == read_outcomes(train).sha256
    assert document["training"]["examples"] == 4 * 25 * 4
    assert document["features"]["word_ngrams"] == [1, 2]
    # Round trip: what is loaded predicts exactly what the file holds.
    first = load_learned_router(path).predict("Translate into French: hi", "assist")
    second = load_learned_router(path).predict("Translate into French: hi", "assist")
    assert first == second
    assert len(first[0]) == len(first[1]) == 4


def test_a_damaged_or_foreign_file_is_refused(
    tmp_path: Path, trained: tuple[Path, Path, Path]
) -> None:
    (tmp_path / "other.json").write_bytes(b'{"format": "something else"}')
    with pytest.raises(ConfigError, match="is not a learned router"):
        load_learned_router(tmp_path / "other.json")
    document = orjson.loads(trained[2].read_bytes())
    document["predictors"][0]["weights"]["indices"] = "AAAA"
    (tmp_path / "damaged.json").write_bytes(orjson.dumps(document))
    with pytest.raises(ConfigError, match="damaged"):
        load_learned_router(tmp_path / "damaged.json")
    with pytest.raises(ConfigError, match="is not a learned scorer"):
        load_learned_scorer(trained[2])


def test_a_scorer_learns_which_answers_are_good(tmp_path: Path) -> None:
    rows = []
    rng = random.Random(3)
    for i in range(60):
        good = i % 2 == 0
        answer = "The total is 3 + 4 = 7." if good else "The total is 3 + 4 = 9."
        rows.append(
            Outcome(
                prompt_id=f"s{i}",
                prompt=f"Add 3 and 4 for case {rng.randint(1, 999)}.",
                model="small",
                score=1.0 if good else 0.0,
                cost_usd=0.001,
                answer=answer,
            )
        )
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r.model_dump(exclude_none=True)) + b"\n" for r in rows))
    train_scorer(read_outcomes(path), "small", tmp_path / "scorer.json")
    scorer = load_learned_scorer(tmp_path / "scorer.json")
    assert scorer.model == "small"
    right = scorer("t", "Add 3 and 4 for case 5.", "The total is 3 + 4 = 7.")
    wrong = scorer("t", "Add 3 and 4 for case 5.", "The total is 3 + 4 = 9.")
    assert right is not None
    assert wrong is not None
    assert right > 0.5 > wrong


# -- metrics on hand-computed cases -----------------------------------------------------------


def test_aiq_is_the_mean_quality_under_the_hull() -> None:
    # Points (0, 0.5), (1, 0.7), (2, 0.8); (1, 0.55) is under the hull.
    points = [(0.0, 0.5), (1.0, 0.55), (1.0, 0.7), (2.0, 0.8)]
    assert metrics.hull(points) == [(0.0, 0.5), (1.0, 0.7), (2.0, 0.8)]
    # Area: (0.5 + 0.7) / 2 + (0.7 + 0.8) / 2 = 1.35 over a range of 2.
    assert metrics.aiq(points, 0.0, 2.0) == pytest.approx(0.675)
    # A dearer point that is worse does not lower the hull (non-decreasing).
    assert metrics.aiq([*points, (3.0, 0.6)], 0.0, 3.0) == pytest.approx((1.35 + 0.8) / 3)
    front = metrics.hull(points)
    assert metrics.quality_at(front, 0.5) == pytest.approx(0.6)
    assert metrics.cost_to_reach(front, 0.75) == pytest.approx(1.5)
    assert metrics.cost_to_reach(front, 0.9) is None


def test_apgr_and_cpt_on_a_tiny_curve() -> None:
    weak, strong = 0.6, 0.8
    # Shares 0, 0.5, 1 with PGR 0, 0.75, 1: APGR = 0.5 * (0 + 0.75) / 2 + 0.5 * (0.75 + 1) / 2.
    curve = [(0.0, 0.6), (0.5, 0.75), (1.0, 0.8)]
    assert metrics.apgr(curve, weak, strong) == pytest.approx(0.625)
    assert metrics.cpt(curve, weak, strong, 0.5) == pytest.approx(0.5)
    assert metrics.cpt(curve, weak, strong, 0.8) == pytest.approx(1.0)
    random_router = [(0.0, 0.6), (1.0, 0.8)]
    assert metrics.apgr(random_router, weak, strong) == pytest.approx(0.5)


def test_the_evaluation_ranks_the_learned_router_above_random(
    trained: tuple[Path, Path, Path],
) -> None:
    train, test, router = trained
    ev = evaluate(load_learned_router(router), read_outcomes(test), train=read_outcomes(train))
    names = [p.name for p in ev.policies]
    assert names == ["learned", "oracle", "per-task prior", "TF-IDF + LR", "random (expected)"]
    learned, oracle, rand = (
        ev.policy("learned"),
        ev.policy("oracle"),
        ev.policy("random (expected)"),
    )
    assert rand.aiq < learned.aiq <= oracle.aiq + 1e-9
    assert ev.weak is None, "four models: no two-model metrics"
    cost = learned.cost_to_match_best_usd
    assert cost is not None
    assert cost < ev.single["large"][1]


# -- the commands ------------------------------------------------------------------------------


def test_the_learn_commands_end_to_end(
    tmp_path: Path, trained: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, test, _ = trained
    router = tmp_path / "r.json"
    assert (
        run(
            [
                "learn",
                "train",
                "--outcomes",
                str(train),
                "--out",
                str(router),
                "--models",
                "tiny,large",
            ]
        )
        == 0
    )
    assert load_learned_router(router).models == ["tiny", "large"]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(
        orjson.dumps({"prompt_id": "a", "prompt": syn.prompt("proof", random.Random(1))})
        + b"\n"
        + orjson.dumps({"prompt_id": "b", "prompt": "Say hello to Ana.", "task": "assist"})
        + b"\n"
    )
    capsys.readouterr()
    assert (
        run(
            [
                "learn",
                "route",
                "--router",
                str(router),
                "--prompts",
                str(prompts),
                "--cost-weight",
                str(syn.COST_WEIGHT),
            ]
        )
        == 0
    )
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(x["prompt_id"], x["model"]) for x in lines] == [("a", "large"), ("b", "tiny")]
    assert set(lines[0]) == {"prompt_id", "model", "predicted_score", "predicted_cost_usd"}
    plot, report = tmp_path / "chart.png", tmp_path / "ev.json"
    assert (
        run(
            [
                "learn",
                "evaluate",
                "--router",
                str(router),
                "--outcomes",
                str(test),
                "--train",
                str(train),
                "--plot",
                str(plot),
                "--json",
                str(report),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| learned |" in out
    assert "APGR" in out, "two models: the APGR columns"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert orjson.loads(report.read_bytes())["strong"] == "large"
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"prompt_id": "x"}\n')
    assert run(["learn", "train", "--outcomes", str(bad), "--out", str(router)]) != 0
    assert f"{bad}:1: prompt: Field required" in capsys.readouterr().err

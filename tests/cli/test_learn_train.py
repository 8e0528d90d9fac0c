"""`llmrouter learn train`: the plain router by default, the prior-anchored one on request."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from llmrouter.cli import run
from llmrouter.evaluation.learn import synthetic as syn
from llmrouter.evaluation.learn.outcomes import write_outcomes
from llmrouter.router.learned import load_learned_router

TASK_OF = {"greeting": "writing", "translate": "writing", "legal": "expert", "proof": "expert"}


@pytest.fixture
def outcomes_file(tmp_path: Path) -> Path:
    path = tmp_path / "outcomes.jsonl"
    write_outcomes(
        [
            o.model_copy(update={"task": TASK_OF[o.prompt_id.split("-")[1]]})
            for o in syn.outcomes(12, 5, prefix="cli")
        ],
        path,
    )
    return path


def _train(outcomes: Path, out: Path, *flags: str) -> int:
    return run(["learn", "train", "--outcomes", str(outcomes), "--out", str(out), *flags])


def test_prior_anchored_per_task_training_from_the_command(
    outcomes_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "router.json"
    assert _train(outcomes_file, out, "--prior-anchored", "--per-task") == 0
    saved = orjson.loads(out.read_bytes())
    assert saved["version"] == 3
    assert set(saved["training"]["prior_anchored"]["per_task_c"]) == {"expert", "writing"}
    assert load_learned_router(out).models == list(syn.MODELS)


def test_prior_anchored_with_one_budget_for_every_task(outcomes_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "router.json"
    assert _train(outcomes_file, out, "--prior-anchored", "--models", "tiny,large") == 0
    saved = orjson.loads(out.read_bytes())
    assert "c" in saved["training"]["prior_anchored"]
    assert load_learned_router(out).models == ["tiny", "large"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--per-task",), "only with --prior-anchored"),
        (("--prior-anchored", "--text-weights", "0,1"), "for the plain router only"),
    ],
)
def test_flags_that_do_not_go_together_are_refused(
    outcomes_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: tuple[str, ...],
    message: str,
) -> None:
    out = tmp_path / "router.json"
    assert _train(outcomes_file, out, *flags) != 0
    assert message in capsys.readouterr().err
    assert not out.exists()

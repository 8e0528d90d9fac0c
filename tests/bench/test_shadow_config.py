"""The shadow benchmark's config: the bench task with a shadow model and a judge of their
own (not the live model), valid as the workers load it, and without them when off."""

from __future__ import annotations

from pathlib import Path

from bench.shadow import JUDGE_MODEL, SHADOW_MODEL, _config
from bench.workload import BENCH_MODEL
from llmrouter.router.config_loader import load_config
from llmrouter.workers.quality.build import watched


def test_shadow_on_mirrors_every_answer_to_a_model_of_its_own(tmp_path: Path) -> None:
    task = "bench-shadow-0123456789"
    config = load_config(_config(tmp_path / "on.json", task, shadow_rate=1.0, judge_rate=0.5))
    spec = config.tasks[task]
    assert spec.shadow is not None
    assert spec.judge is not None
    assert (spec.shadow.rate, spec.shadow.models, spec.judge.sample_rate) == (
        1.0,
        [SHADOW_MODEL],
        0.5,
    )
    assert spec.judge.model == JUDGE_MODEL
    assert BENCH_MODEL not in (SHADOW_MODEL, JUDGE_MODEL)
    assert watched(spec)


def test_shadow_off_is_the_plain_bench_task(tmp_path: Path) -> None:
    task = "bench-shadow-0123456789"
    config = load_config(_config(tmp_path / "off.json", task, shadow_rate=0.0, judge_rate=0.0))
    assert not watched(config.tasks[task])

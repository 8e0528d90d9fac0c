"""End to end through router/ against the simulator: answers, scores, failures, the judge."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.evaluation.candidates import resolve_candidate, route_candidate
from llmrouter.evaluation.dataset import EvalExample, load_dataset
from llmrouter.evaluation.judge import RouterJudge, Verdict
from llmrouter.evaluation.report import build_report
from llmrouter.evaluation.runner import run_eval
from tests.evaluation.conftest import TASK, EvalSim


async def test_the_better_model_scores_higher(eval_sim: EvalSim) -> None:
    cfg = eval_sim.config
    dataset = load_dataset(eval_sim.dataset, task=TASK)
    candidates = [resolve_candidate(cfg, "good"), resolve_candidate(cfg, "poor"), route_candidate()]
    run = await run_eval(cfg, dataset, candidates, concurrency=4, simulator_url=eval_sim.url)
    report = build_report(run, cfg)
    by = {m.label: m for m in report.models}
    good, poor, route = by["good"], by["poor"], by["route"]
    assert good.completeness is not None
    assert poor.completeness is not None
    assert good.completeness > poor.completeness + 0.3
    assert report.primary == "completeness"
    assert good.quality == good.completeness
    assert good.cost_per_query is not None
    assert poor.cost_per_query is not None
    assert good.cost_per_query > poor.cost_per_query > 0
    assert report.highlights.best_quality == "good"
    assert report.highlights.cheapest == "poor"
    # No judge: accuracy of open answers and tone are not measured, not made up.
    assert (good.accuracy, good.tone, good.tone_scored) == (None, None, 0)
    assert good.safety is not None
    assert good.p95_ms is not None
    assert good.throughput_rps
    assert (good.examples, good.failed) == (12, 0)
    # The configured route is static to `poor`: same prompt, same answers.
    assert route.completeness == poor.completeness
    assert {r.answered_by for r in run.runs[2].results} == {"poor"}
    assert run.route_models == ("poor",)


async def test_failed_requests_score_zero_and_say_why(eval_sim: EvalSim) -> None:
    cfg = eval_sim.config
    dataset = load_dataset(eval_sim.dataset, task=TASK).limited(3)
    candidates = [resolve_candidate(cfg, "broken")]
    run = await run_eval(cfg, dataset, candidates, concurrency=2, simulator_url=eval_sim.url)
    summary = build_report(run, cfg).models[0]
    assert (summary.failed, summary.completeness, summary.safety) == (3, 0.0, None)
    assert summary.cost_quality_ratio is None  # quality 0: no ratio, not infinity
    errors = {r.error for r in run.runs[0].results}
    assert all(e is not None and "HTTP 500" in e for e in errors), errors


class StubJudge:
    """Scores answers that mention a dial 7/10 and passes them; fails the rest."""

    async def tone(self, task: str, example: EvalExample, answer: str) -> Verdict:
        return Verdict(7.0 if "dial" in answer else None, Decimal("0.001"))

    async def passes(self, task: str, example: EvalExample, answer: str) -> Verdict:
        return Verdict("dial" in answer, Decimal("0.002"))

    async def aclose(self) -> None:
        pass


async def test_a_judge_fills_in_tone_and_accuracy(eval_sim: EvalSim) -> None:
    cfg = eval_sim.config
    dataset = load_dataset(eval_sim.dataset, task=TASK).limited(4)
    run = await run_eval(
        cfg,
        dataset,
        [resolve_candidate(cfg, "good")],
        judge=StubJudge(),
        judge_label="stub",
        simulator_url=eval_sim.url,
    )
    summary = build_report(run, cfg).models[0]
    assert summary.tone == 7.0
    assert summary.tone_scored == 4
    assert summary.accuracy == 1.0
    assert summary.judge_cost_usd == Decimal("0.012")
    assert run.judge == "stub"


async def test_the_router_judge_reads_the_simulators_grades(eval_sim: EvalSim) -> None:
    # The simulator grades a judge prompt against the example (simulator/judging.py): a
    # reply with one key point of four is a fail, tone 3 + 7 × 1/4 ≈ 5.
    cfg = eval_sim.config
    example = load_dataset(eval_sim.dataset, task=TASK).examples[0]
    judge = RouterJudge(cfg, resolve_candidate(cfg, "good"), simulator_url=eval_sim.url)
    try:
        tone = await judge.tone(TASK, example, "Turn amber dial 1.")
        verdict = await judge.passes(TASK, example, "Turn amber dial 1.")
    finally:
        await judge.aclose()
    assert verdict.value is False
    assert tone.value is not None
    assert 1 <= tone.value <= 6
    assert tone.cost_usd > 0  # the call was made and paid for

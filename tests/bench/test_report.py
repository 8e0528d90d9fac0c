"""The benchmark report's comparisons and targets, from made-up runs (no broker)."""

from __future__ import annotations

from bench.harness import Machine
from bench.openloop import Run
from bench.report import RunInfo, history_row, pipeline_lines, render_scenario
from bench.scenarios import SCENARIOS, ScenarioResult

INFO = RunInfo(
    command="python -m bench",
    date="2026-12-07 19:00 UTC",
    machine=Machine(2, 23.5, "cpu", "3.11", "4.1.1", "0.14.0", "Linux"),
    load_before="0.1 0.1 0.1",
    code="abc1234",
)


def _run(
    name: str,
    *,
    rate: float,
    duration_s: float = 10.0,
    delivered_rps: float,
    e2e_ms: list[float],
    rss: dict[str, float] | None = None,
    costs: int = 0,
) -> Run:
    """A run that delivered `delivered_rps` over exactly its duration, with these latencies
    (the unlisted answers are as late as the last listed one)."""
    kind = "pipeline" if name.startswith("pipeline") else name
    run = Run(name, rate, duration_s, kind=kind, name=name)
    run.delivered = run.ok = round(delivered_rps * duration_s)
    run.first_at, run.last_at = 100.0, 100.0 + duration_s
    run.e2e_ms = (e2e_ms * (run.delivered // len(e2e_ms) + 1))[: run.delivered]
    run.peak_rss_mib = dict(rss or {})
    run.costs = costs
    return run


def test_load_targets_compare_the_p99_with_the_raw_consumers() -> None:
    raw = _run("passthrough", rate=500, delivered_rps=500, e2e_ms=[1500.0, 1600.0])
    plain = _run("plain", rate=500, delivered_rps=500, e2e_ms=[1500.0, 1800.0])
    fast = _run(
        "pipeline-static",
        rate=500,
        delivered_rps=500,
        e2e_ms=[1550.0, 1900.0],
        rss={"router": 140.0, "classifier": 170.0},
    )
    slow = _run(
        "pipeline-complexity",
        rate=500,
        delivered_rps=500,
        e2e_ms=[1600.0, 2100.0],
        rss={"router": 160.0, "classifier": 90.0},
    )
    baselines = {"passthrough": raw, "plain": plain}

    fast_lines = pipeline_lines("b", fast, baselines)
    assert fast_lines[0] == (
        "**pipeline static** over the raw pass-through: delivered rate **1.00×**, "
        "p50 **1.03×**, p99 **1.19×**; over the plain consumer: p50 **1.03×**, p99 **1.06×**."
    )
    # p99 1,900 / 1,600 = 1.19 ≤ 1.25; only the router's RSS counts (the classifier's is
    # over 150 MiB here).
    assert fast_lines[1] == (
        "Targets (pipeline static): all 5,000 answered **met**; p99 ≤1.25× the raw "
        "consumer's (1,900 ms vs 1,600 ms) **met**; router RSS ≤150 MiB (140 MiB) **met**."
    )
    slow_targets = pipeline_lines("b", slow, baselines)[1]
    assert "(2,100 ms vs 1,600 ms) **missed**" in slow_targets
    assert "router RSS ≤150 MiB (160 MiB) **missed**" in slow_targets


def test_capacity_targets_differ_by_route_and_need_every_cost_event() -> None:
    raw = _run("passthrough", rate=3000, delivered_rps=2000, e2e_ms=[20.0])
    litellm = _run("litellm", rate=3000, delivered_rps=200, e2e_ms=[9000.0])
    static = _run("pipeline-static", rate=3000, delivered_rps=1600, e2e_ms=[500.0], costs=16_000)
    complexity = _run(
        "pipeline-complexity", rate=3000, delivered_rps=1300, e2e_ms=[500.0], costs=12_999
    )
    baselines = {"passthrough": raw, "litellm": litellm}

    static_lines = pipeline_lines("c", static, baselines)
    assert static_lines[0] == (
        "**pipeline static** over the raw pass-through: delivered rate **0.80×**; "
        "over LiteLLM: delivered rate **8.00×**."
    )
    assert static_lines[1] == (
        "Targets (pipeline static): delivered ≥0.75× the raw consumer's capacity "
        "(1,600 vs 2,000 req/s) **met**; every result with its cost events **met** "
        "(16,000 cost events for 16,000 results)."
    )
    # 0.65× meets the complexity route's 0.60×, but one result lacks its cost event.
    complexity_targets = pipeline_lines("c", complexity, baselines)[1]
    assert "delivered ≥0.60× the raw consumer's capacity (1,300 vs 2,000 req/s) **met**" in (
        complexity_targets
    )
    assert "every result with its cost events **missed**" in complexity_targets


def test_no_ratio_against_a_baseline_that_never_answered_its_p99() -> None:
    litellm = _run("litellm", rate=500, delivered_rps=100, e2e_ms=[9000.0])
    pipe = _run("pipeline-static", rate=500, delivered_rps=500, e2e_ms=[1600.0])
    lines = pipeline_lines("b", pipe, {"litellm": litellm})
    assert lines[0] == "**pipeline static** over LiteLLM: p50 **–**, p99 **–**."


def test_latency_targets_are_against_the_plain_consumer() -> None:
    plain = _run("plain", rate=150, delivered_rps=150, e2e_ms=[1500.0, 8000.0])
    pipe = _run("pipeline-static", rate=150, delivered_rps=150, e2e_ms=[1700.0, 8100.0])
    lines = pipeline_lines("a", pipe, {"plain": plain})
    assert lines[0] == "**pipeline static** over the plain consumer: p50 **1.13×**, p99 **1.01×**."
    assert lines[1] == (
        "Targets (pipeline static): p50 ≤1.10× the plain consumer's **missed**; "
        "p99 ≤1.10× **met**; 100% answered **met**."
    )


def test_an_unavailable_system_is_a_row_with_its_reason_and_no_ratio() -> None:
    scenario = SCENARIOS["c"]
    raw = _run("passthrough", rate=3000, delivered_rps=2000, e2e_ms=[20.0])
    pipe = _run("pipeline-static", rate=3000, delivered_rps=1500, e2e_ms=[500.0], costs=15_000)
    missing = Run("LiteLLM consumer", 3000, 10.0, kind="litellm", name="litellm")
    missing.unavailable = "pip install exited 1: no network"
    result = ScenarioResult(scenario, 10.0, 4096, runs=[pipe, missing, raw])

    text = render_scenario(result, INFO)

    row = next(line for line in text.splitlines() if line.startswith("| LiteLLM consumer"))
    assert "not available: pip install exited 1: no network" in row
    assert row.count("|") == 12  # as many cells as the header
    assert "LiteLLM:" not in text
    assert "over the raw pass-through: delivered rate **0.75×**" in text
    assert result.run_of("litellm") is None
    assert "raw pass-through answered everything offered" not in text  # 2,000 of 3,000


def test_a_raw_consumer_that_kept_up_gives_upper_bounds() -> None:
    raw = _run("passthrough", rate=3000, delivered_rps=3000, e2e_ms=[20.0])
    pipe = _run("pipeline-static", rate=3000, delivered_rps=900, e2e_ms=[500.0], costs=9_000)
    raw.max_send_lag_ms = 1500.0
    result = ScenarioResult(SCENARIOS["c"], 10.0, 4096, runs=[pipe, raw])
    text = render_scenario(result, INFO)
    assert "its capacity is at least 3,000 req/s, so the ratios against it are upper bounds" in (
        text
    )
    assert "fell behind its schedule (at most: passthrough 1,500 ms)" in text


def test_history_row_gives_both_pipelines() -> None:
    b_raw = _run("passthrough", rate=500, delivered_rps=500, e2e_ms=[1600.0])
    b_static = _run("pipeline-static", rate=500, delivered_rps=499, e2e_ms=[1900.0])
    c_raw = _run("passthrough", rate=3000, delivered_rps=2000, e2e_ms=[20.0])
    c_complexity = _run("pipeline-complexity", rate=3000, delivered_rps=1200, e2e_ms=[500.0])
    results = {
        "b": ScenarioResult(SCENARIOS["b"], 10.0, 4096, runs=[b_static, b_raw]),
        "c": ScenarioResult(SCENARIOS["c"], 10.0, 4096, runs=[c_complexity, c_raw]),
    }

    row = history_row(INFO, results, None)

    assert row == (
        "| 2026-12-07 19:00 UTC | abc1234 | `python -m bench` | – | 499, 1,900 ms; – "
        "| –; 1,200, ∞ | – |"  # most of the 30,000 offered were never answered
    )

"""Figures as Markdown: printed after each benchmark and kept in docs/BENCHMARKS.md.

The document is hand-written around generated blocks, each between `<!-- bench:<id> -->`
and `<!-- /bench:<id> -->`: a run replaces the blocks of the benchmarks it ran (and
leaves the others as they were) and appends one row to the history table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.decision import DecisionReport, Timing
from bench.harness import Machine
from bench.openloop import Run
from bench.profiling import Profile
from bench.scenarios import ScenarioResult

__all__ = [
    "RunInfo",
    "history_row",
    "pipeline_lines",
    "render_decision",
    "render_profiles",
    "render_scenario",
    "update_docs",
]

#: (a): the pipeline's p50 and p99 over the plain consumer's, at most
LATENCY_GOAL_RATIO = 1.10
#: (b): the pipeline's p99 over the raw consumer's (which holds each record the
#: provider latency), at most
LOAD_GOAL_P99_RATIO = 1.25
#: (b): the router process's peak RSS, at most
RSS_GOAL_MIB = 150.0
#: (c): the pipeline's delivered rate over the raw consumer's, at least, per route
CAPACITY_GOAL_SHARE = {"pipeline-static": 0.75, "pipeline-complexity": 0.60}
DECISION_GOAL_P99_US = 50.0
#: a sender this late behind its schedule is worth a word in the report
SENDER_LATE_MS = 1000.0
#: the pipeline rows, and the baselines each is compared with, in report order
PIPELINES = ("pipeline-static", "pipeline-complexity")
BASELINES = {"passthrough": "the raw pass-through", "plain": "the plain consumer"} | {
    "litellm": "LiteLLM"
}


@dataclass(frozen=True)
class RunInfo:
    command: str
    date: str
    machine: Machine
    load_before: str
    #: the product code measured: commit, and whether it had uncommitted changes
    code: str

    def header(self) -> str:
        return (
            f"Measured {self.date} at {self.code} with `{self.command}` on "
            f"{self.machine.describe()}. Load average before the run: {self.load_before}."
        )


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _ms(value: float) -> str:
    if math.isnan(value):
        return "–"
    return "never (unanswered)" if math.isinf(value) else f"{value:,.0f} ms"


def _ratio(a: float, b: float) -> float:
    """a / b; NaN (printed –) when b is nothing to compare with: zero, unmeasured, or a
    percentile the baseline never reached (it left that many requests unanswered)."""
    return a / b if b and math.isfinite(b) else math.nan


def _x(value: float) -> str:
    if math.isnan(value):
        return "–"
    return "∞" if math.isinf(value) else f"{value:.2f}×"


def _rss(run: Run) -> str:
    return ", ".join(f"{name} {mib:,.0f}" for name, mib in run.peak_rss_mib.items()) or "–"


def _cpu(run: Run) -> str:
    """CPU per answered request of each process of the system, the broker's, the
    simulator's and the bench's own (its sender and reader)."""
    parts = []
    for name in [*run.peak_rss_mib, "broker", "simulator", "bench"]:
        if name in run.cpu_s and run.delivered:
            parts.append(f"{name} {run.cpu_s[name] / run.delivered * 1e6:,.0f}")
    return ", ".join(parts) or "–"


def _others(run: Run) -> float:
    """Cores busy outside the benchmark's own processes during the run."""
    if not run.window_s:
        return math.nan
    ours = sum(v for k, v in run.cpu_s.items() if k != "machine")
    return max(0.0, run.cpu_s.get("machine", 0.0) - ours) / run.window_s


def _row(run: Run) -> str:
    if run.unavailable is not None:
        return f"| {run.label} | not available: {run.unavailable} |" + " – |" * 9
    failure = f" (stopped: {run.failure})" if run.failure else ""
    return (
        f"| {run.label}{failure} | {run.offered:,} | {run.delivered_rate:,.0f} "
        f"| {run.answered:.2%} | {run.ok_share:.2%} | {_ms(run.e2e_percentile(50))} "
        f"| {_ms(run.e2e_percentile(99))} | {_rss(run)} | {_cpu(run)} "
        f"| {run.cores('machine'):.2f} | {_others(run):.2f} |"
    )


def _name(name: str) -> str:
    return name.replace("pipeline-", "pipeline ")


def _ratios(key: str, pipe: Run, baselines: dict[str, Run]) -> str:
    """How `pipe` compares with each baseline that ran: delivered rate over the raw
    pass-through's (and over every baseline's in (c)); p50 and p99 over the SDK
    consumers' in (a) and (b), and over the raw consumer's in (b)."""

    def latency(base: Run) -> list[str]:
        p50 = _ratio(pipe.e2e_percentile(50), base.e2e_percentile(50))
        p99 = _ratio(pipe.e2e_percentile(99), base.e2e_percentile(99))
        return [f"p50 **{_x(p50)}**", f"p99 **{_x(p99)}**"]

    parts = []
    for name, title in BASELINES.items():
        base = baselines.get(name)
        if base is None:
            continue
        figures = []
        if name == "passthrough" or key == "c":
            rate = _ratio(pipe.delivered_rate, base.delivered_rate)
            figures.append(f"delivered rate **{_x(rate)}**")
        if key == "b" or (key == "a" and name != "passthrough"):
            figures += latency(base)
        parts.append(f"over {title}: {', '.join(figures)}")
    return f"**{_name(pipe.name)}** " + "; ".join(parts) + "." if parts else ""


def _router_rss(run: Run) -> float:
    rss = [mib for name, mib in run.peak_rss_mib.items() if name.startswith("router")]
    return max(rss, default=math.nan)


def _targets(key: str, pipe: Run, baselines: dict[str, Run]) -> str:
    raw, plain = baselines.get("passthrough"), baselines.get("plain")
    who = _name(pipe.name)
    if key == "a":
        if plain is None:
            return ""
        p50 = _ratio(pipe.e2e_percentile(50), plain.e2e_percentile(50))
        p99 = _ratio(pipe.e2e_percentile(99), plain.e2e_percentile(99))
        return (
            f"Targets ({who}): p50 ≤{LATENCY_GOAL_RATIO:.2f}× the plain consumer's "
            f"{_verdict(p50 <= LATENCY_GOAL_RATIO)}; p99 ≤{LATENCY_GOAL_RATIO:.2f}× "
            f"{_verdict(p99 <= LATENCY_GOAL_RATIO)}; 100% answered "
            f"{_verdict(pipe.delivered >= pipe.offered)}."
        )
    if key == "b":
        rss = _router_rss(pipe)
        p99_goal = (
            f"p99 ≤{LOAD_GOAL_P99_RATIO:.2f}× the raw consumer's (not measured)"
            if raw is None
            else f"p99 ≤{LOAD_GOAL_P99_RATIO:.2f}× the raw consumer's "
            f"({_ms(pipe.e2e_percentile(99))} vs {_ms(raw.e2e_percentile(99))}) "
            + _verdict(
                _ratio(pipe.e2e_percentile(99), raw.e2e_percentile(99)) <= LOAD_GOAL_P99_RATIO
            )
        )
        return (
            f"Targets ({who}): all {pipe.offered:,} answered "
            f"{_verdict(pipe.delivered >= pipe.offered)}; {p99_goal}; router RSS "
            f"≤{RSS_GOAL_MIB:g} MiB ({rss:,.0f} MiB) {_verdict(rss <= RSS_GOAL_MIB)}."
        )
    if key == "c":
        share = CAPACITY_GOAL_SHARE.get(pipe.name, CAPACITY_GOAL_SHARE["pipeline-static"])
        costs = _verdict(pipe.delivered > 0 and pipe.costs >= pipe.delivered)
        capacity = (
            f"delivered ≥{share:.2f}× the raw consumer's capacity (not measured)"
            if raw is None
            else f"delivered ≥{share:.2f}× the raw consumer's capacity "
            f"({pipe.delivered_rate:,.0f} vs {raw.delivered_rate:,.0f} req/s) "
            + _verdict(_ratio(pipe.delivered_rate, raw.delivered_rate) >= share)
        )
        return (
            f"Targets ({who}): {capacity}; every result with its cost events {costs} "
            f"({pipe.costs:,} cost events for {pipe.delivered:,} results)."
        )
    return ""


def pipeline_lines(key: str, pipe: Run, baselines: dict[str, Run]) -> list[str]:
    """What a benchmark's block says of one pipeline row: its ratios to the baselines
    that ran, its targets, and the provider call as the router timed it."""
    lines = [_ratios(key, pipe, baselines), _targets(key, pipe, baselines)]
    if pipe.provider_ms:
        calls = sorted(pipe.provider_ms)
        p50, p99 = calls[len(calls) // 2], calls[min(len(calls) - 1, int(len(calls) * 0.99))]
        lines.append(
            f"The provider call of {_name(pipe.name)} as the router timed it: p50 {p50:,.0f} "
            f"ms, p99 {p99:,.0f} ms (the rest of the end-to-end time is the classifier hop, "
            "both transactions, queueing and the reader's fetch)."
        )
    return [line for line in lines if line]


def _goals(result: ScenarioResult) -> list[str]:
    key = result.scenario.key
    baselines = {name: run for name in BASELINES if (run := result.run_of(name)) is not None}
    lines: list[str] = []
    for name in PIPELINES:
        pipe = result.run_of(name)
        if pipe is not None:
            lines += pipeline_lines(key, pipe, baselines)
    raw = baselines.get("passthrough")
    if key == "c" and raw is not None and raw.delivered >= raw.offered:
        lines.append(
            f"The raw pass-through answered everything offered: its capacity is at least "
            f"{raw.delivered_rate:,.0f} req/s, so the ratios against it are upper bounds."
        )
    late = [run for run in result.runs if run.max_send_lag_ms > SENDER_LATE_MS]
    if late:
        worst = ", ".join(f"{_name(run.name)} {run.max_send_lag_ms:,.0f} ms" for run in late)
        lines.append(
            f"The bench's own sender fell behind its schedule (at most: {worst}): those runs "
            "were offered less than the nominal rate at times (their latencies still count "
            "from the schedule), so a delivered rate near the offered one may be the "
            "sender's limit, not the system's."
        )
    if key in ("a", "b") and lines:  # only when a pipeline was compared with them
        for name in ("plain", "litellm"):
            base = baselines.get(name)
            if base is not None and base.delivered < base.offered:
                lines.append(
                    f"{BASELINES[name][0].upper()}{BASELINES[name][1:]} did not keep up "
                    f"({base.answered:.1%} answered): a latency ratio against a baseline "
                    "that left requests unanswered says only that the pipeline did better."
                )
    return lines


def render_scenario(result: ScenarioResult, info: RunInfo) -> str:
    s = result.scenario
    provider = (
        f"lognormal latency, median {s.median_ms:,.0f} ms, p99 {s.p99_ms:,.0f} ms"
        if s.latency_ms is None
        else f"fixed {s.latency_ms:,.0f} ms latency"
    )
    lines = [
        f"### {s.title}",
        "",
        info.header(),
        "",
        f"{s.rate:,.0f} req/s offered for {result.duration_s:g} s (open loop; latency from each "
        f"request's scheduled send time to its answer on the output topic; {s.drain_s:g} s "
        f"of drain, then whatever is unanswered counts as never answered), simulator with "
        f"{provider}. The plain and LiteLLM consumers run {result.concurrency:,} calls at "
        "once, the worker's default `max_in_flight` at this commit.",
        "",
        "| system | offered | delivered req/s | answered | ok | p50 | p99 | peak RSS MiB "
        "| CPU µs per answer | machine busy (cores) | of which others |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |",
        *[_row(run) for run in result.runs],
        "",
        *[f"- {line}" for line in _goals(result)],
    ]
    return "\n".join(lines)


def history_row(
    info: RunInfo, results: dict[str, ScenarioResult], decision: DecisionReport | None
) -> str:
    """One row of the history table: (a) the static pipeline's p50 and p99 over the plain
    consumer's; (b) and (c) each pipeline's delivered rate and p99 (static; complexity)."""

    def ms(value: float) -> str:
        return "∞" if value == float("inf") else f"{value:,.0f} ms"

    cells = {"a": "–", "b": "–", "c": "–", "d": "–"}
    a = results.get("a")
    if a is not None and (pipe := a.run_of("pipeline-static")) and (plain := a.run_of("plain")):
        p50 = _ratio(pipe.e2e_percentile(50), plain.e2e_percentile(50))
        p99 = _ratio(pipe.e2e_percentile(99), plain.e2e_percentile(99))
        cells["a"] = f"{_x(p50)}, {_x(p99)}"
    for key in ("b", "c"):
        result = results.get(key)
        if result is None:
            continue
        figures = []
        for name in PIPELINES:
            pipe = result.run_of(name)
            figures.append(
                "–"
                if pipe is None
                else f"{pipe.delivered_rate:,.0f}, {ms(pipe.e2e_percentile(99))}"
            )
        cells[key] = "; ".join(figures)
    if decision is not None:
        cells["d"] = f"{decision.full.p99_us:,.1f}"
    row = " | ".join(cells[k] for k in ("a", "b", "c", "d"))
    return f"| {info.date} | {info.code} | `{info.command}` | {row} |"


# -- decision -----------------------------------------------------------------------------


def _timing_row(t: Timing, base: Timing) -> str:
    return (
        f"| {t.label} | {t.p50_us:,.2f} | {t.p99_us:,.2f} | {t.p999_us:,.2f} | {t.mean_us:,.2f} "
        f"| {t.p50_us / base.p50_us:,.0f}× | {t.p99_us / base.p99_us:,.0f}× | {t.cpu_p99_us:,.2f} |"
    )


def render_decision(
    report: DecisionReport, info: RunInfo, learned: dict[str, float] | None = None
) -> str:
    base = report.baseline
    rows = [report.full, report.classify, report.decide, base]
    lines = [
        "### (d) Routing decision in process (customer-support-qa, `support-rules`)",
        "",
        info.header(),
        "",
        "| µs per decision | p50 | p99 | p99.9 | mean | p50 × lookup | p99 × lookup "
        "| p99 in thread CPU time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[_timing_row(t, base) for t in rows],
        "",
        f"{report.full.iterations:,} iterations each, cycling through the eval set's "
        f"questions with mixed user tiers; timer overhead "
        f"{report.timer_ns:.0f} ns per sample (included in every row). "
        f"Target p99 ≤{DECISION_GOAL_P99_US:g} µs: "
        f"{_verdict(report.full.p99_us <= DECISION_GOAL_P99_US)} "
        f"({report.full.p99_us:,.1f} µs wall clock; {report.full.cpu_p99_us:,.1f} µs in "
        "thread CPU time, which preemption by other processes does not inflate).",
    ]
    if learned:
        lines += [
            "",
            f"A `strategy: learned` route (bench/learned_decision.py: features, four models' "
            f"predicted quality and cost, the pick), {learned['iterations']:,.0f} decisions on "
            f"prompts of ~{learned['prompt_chars_mean']:,.0f} characters: p50 "
            f"{learned['p50_us']:,.1f} µs, p99 {learned['p99_us']:,.1f} µs (thread CPU p99 "
            f"{learned['cpu_p99_us']:,.1f} µs; a dict lookup timed alike p99 "
            f"{learned['baseline_p99_us']:,.2f} µs).",
        ]
    return "\n".join(lines)


# -- profiles -----------------------------------------------------------------------------


def render_profiles(profiles: Iterable[Profile], info: RunInfo) -> str:
    lines = ["### Where the router's time goes (py-spy)", "", info.header(), ""]
    for profile in profiles:
        lines += [
            f"**{profile.label}**: {profile.samples:,} samples over {profile.seconds:.1f} s, "
            f"{profile.busy_share:.0%} of one core running Python (GIL held).",
            "",
            "| self time by library | share |",
            "| --- | ---: |",
            *[f"| {area} | {share:.1%} |" for area, share in profile.top_areas(10)],
            "",
            "| inclusive | share |",
            "| --- | ---: |",
            *[
                f"| {name} | {profile.inclusive[name] / profile.samples:.1%} |"
                for name in profile.inclusive_order()
            ],
            "",
            "| hottest functions (self) | share |",
            "| --- | ---: |",
            *[f"| `{name}` | {share:.1%} |" for name, share in profile.top_functions(12)],
            "",
        ]
    return "\n".join(lines)


# -- the document -------------------------------------------------------------------------

_SKELETON = """# Benchmarks

<!-- bench:a -->
<!-- /bench:a -->

<!-- bench:b -->
<!-- /bench:b -->

<!-- bench:c -->
<!-- /bench:c -->

<!-- bench:d -->
<!-- /bench:d -->

<!-- bench:profile -->
<!-- /bench:profile -->

## History

| date | code | command | (a) p50, p99 × plain | (b) req/s, p99: static; complexity | (c) req/s, p99: static; complexity | (d) p99 µs |
| --- | --- | --- | --- | --- | --- | --- |
<!-- bench:history -->
"""


def update_docs(path: Path, blocks: dict[str, str], history_row: str) -> None:
    """Replace the generated blocks that this run produced; append to the history."""
    text = path.read_text(encoding="utf-8") if path.exists() else _SKELETON
    for key, body in blocks.items():
        begin, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
        if begin not in text or end not in text:
            text = text.rstrip("\n") + f"\n\n{begin}\n{end}\n"
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    marker = "<!-- bench:history -->"
    if marker not in text:
        text = text.rstrip("\n") + f"\n\n{marker}\n"
    text = text.replace(marker, f"{history_row}\n{marker}", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

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

__all__ = ["RunInfo", "render_decision", "render_profiles", "render_scenario", "update_docs"]

LATENCY_GOAL_RATIO = 1.10
LOAD_GOAL_RPS = 495.0
LOAD_GOAL_P99_MS = 1650.0
RSS_GOAL_MIB = 150.0
CAPACITY_GOAL_RPS = 1500.0
CAPACITY_GOAL_P99_MS = 1000.0
DECISION_GOAL_P99_US = 50.0


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
    return a / b if b and not math.isnan(b) else math.nan


def _x(value: float) -> str:
    if math.isnan(value):
        return "–"
    return "∞" if math.isinf(value) else f"{value:.2f}×"


def _rss(run: Run) -> str:
    return ", ".join(f"{name} {mib:,.0f}" for name, mib in run.peak_rss_mib.items()) or "–"


def _cpu(run: Run) -> str:
    """CPU per answered request of each process of the system, and the broker's."""
    parts = []
    for name in [*run.peak_rss_mib, "broker", "simulator"]:
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
    failure = f" (stopped: {run.failure})" if run.failure else ""
    return (
        f"| {run.label}{failure} | {run.offered:,} | {run.delivered_rate:,.0f} "
        f"| {run.answered:.2%} | {run.ok_share:.2%} | {_ms(run.e2e_percentile(50))} "
        f"| {_ms(run.e2e_percentile(99))} | {_rss(run)} | {_cpu(run)} "
        f"| {run.cores('machine'):.2f} | {_others(run):.2f} |"
    )


def _goals(result: ScenarioResult) -> list[str]:
    key = result.scenario.key
    pipe, plain = result.run_of("pipeline"), result.run_of("plain")
    if pipe is None:
        return []
    lines: list[str] = []
    if plain is not None:
        p50 = _ratio(pipe.e2e_percentile(50), plain.e2e_percentile(50))
        p99 = _ratio(pipe.e2e_percentile(99), plain.e2e_percentile(99))
        rate = _ratio(pipe.delivered_rate, plain.delivered_rate)
        lines.append(
            f"Pipeline over the plain consumer: p50 **{_x(p50)}**, p99 **{_x(p99)}**, "
            f"delivered rate **{_x(rate)}** (pipeline p50 {_ms(pipe.e2e_percentile(50))}, "
            f"p99 {_ms(pipe.e2e_percentile(99))}; plain p50 {_ms(plain.e2e_percentile(50))}, "
            f"p99 {_ms(plain.e2e_percentile(99))})."
        )
        if plain.delivered < plain.offered:
            lines.append(
                f"The plain consumer did not keep up either ({plain.answered:.1%} answered): "
                "the ratios compare two overloaded systems, and a ratio against a baseline "
                "that left requests unanswered says only that the pipeline did better."
            )
        if key == "a":
            lines.append(
                f"Targets: p50 ≤{LATENCY_GOAL_RATIO:.2f}× {_verdict(p50 <= LATENCY_GOAL_RATIO)}; "
                f"p99 ≤{LATENCY_GOAL_RATIO:.2f}× {_verdict(p99 <= LATENCY_GOAL_RATIO)}; "
                f"100% answered {_verdict(pipe.delivered >= pipe.offered)}."
            )
    if key == "b":
        worst_rss = max(pipe.peak_rss_mib.values(), default=math.nan)
        lines.append(
            f"Targets: all {pipe.offered:,} answered {_verdict(pipe.delivered >= pipe.offered)}; "
            f"≥{LOAD_GOAL_RPS:g} req/s {_verdict(pipe.delivered_rate >= LOAD_GOAL_RPS)}; "
            f"p99 ≤{LOAD_GOAL_P99_MS:,.0f} ms "
            f"{_verdict(pipe.e2e_percentile(99) <= LOAD_GOAL_P99_MS)}; "
            f"≤{RSS_GOAL_MIB:g} MiB per worker {_verdict(worst_rss <= RSS_GOAL_MIB)}."
        )
    if key == "c":
        passthrough = result.run_of("passthrough")
        if passthrough is not None:
            lines.append(
                f"Pipeline over the raw pass-through: delivered rate "
                f"**{_x(_ratio(pipe.delivered_rate, passthrough.delivered_rate))}**."
            )
        lines.append(
            f"Targets: ≥{CAPACITY_GOAL_RPS:,.0f} req/s through both hops with results and cost "
            f"events {_verdict(pipe.delivered_rate >= CAPACITY_GOAL_RPS and pipe.costs >= pipe.delivered)} "
            f"({pipe.costs:,} cost events for {pipe.delivered:,} results); p99 ≤"
            f"{CAPACITY_GOAL_P99_MS:,.0f} ms {_verdict(pipe.e2e_percentile(99) <= CAPACITY_GOAL_P99_MS)}."
        )
    if pipe.provider_ms:
        calls = sorted(pipe.provider_ms)
        p50, p99 = calls[len(calls) // 2], calls[min(len(calls) - 1, int(len(calls) * 0.99))]
        lines.append(
            f"The provider call as the router timed it: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms "
            "(the rest of the end-to-end time is the classifier hop, both transactions, "
            "queueing and the reader's fetch)."
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
        f"{provider}. The plain consumer runs {result.concurrency:,} calls at once, the "
        "worker's default `max_in_flight` at this commit.",
        "",
        "| system | offered | delivered req/s | answered | ok | p50 | p99 | peak RSS MiB "
        "| CPU µs per answer | machine busy (cores) | of which others |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |",
        *[_row(run) for run in result.runs],
        "",
        *_goals(result),
    ]
    return "\n".join(lines)


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

| date | code | command | (a) p50, p99 × plain | (b) req/s, p99 | (c) req/s, p99 | (d) p99 µs |
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

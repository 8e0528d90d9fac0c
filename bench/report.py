"""Figures as Markdown: printed after each benchmark and kept in docs/BENCHMARKS.md.

The document is hand-written around generated blocks, each between `<!-- bench:<id> -->`
and `<!-- /bench:<id> -->`: a run replaces the blocks of the benchmarks it ran (and
leaves the others as they were) and appends one row to the history table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.decision import DecisionReport, Timing
from bench.harness import Machine, percentile
from bench.load import LoadReport, LoadRun
from bench.profiling import Profile
from bench.throughput import ThroughputReport, ThroughputRun

__all__ = ["RunInfo", "render_decision", "render_load", "render_throughput", "update_docs"]

THROUGHPUT_GOAL_RPS = 1500.0
THROUGHPUT_GOAL_RATIO = 0.2
LOAD_GOAL_RPS = 495.0
LOAD_GOAL_P99_MS = 1600.0
RSS_GOAL_MIB = 150.0
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


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "/").replace("\n", " ")


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _ms(value: float) -> str:
    return "never (undelivered)" if math.isinf(value) else f"{value:,.0f} ms"


def _cores(run_cpu: dict[str, float], name: str, seconds: float) -> str:
    used = run_cpu.get(name)
    return f"{used / seconds:.2f}" if used is not None and seconds > 0 else "–"


def _per_request(run: ThroughputRun, name: str) -> str:
    value = run.cpu_us_per_request(name)
    return f"{value:,.0f}" if value is not None else "–"


# -- (a) ----------------------------------------------------------------------------------


def render_throughput(report: ThroughputReport, info: RunInfo) -> str:
    raw = report.passthrough
    shape, best = report.best
    rows = [report.passthrough]
    rows += [report.classifier] if report.classifier else []
    rows += [run for _, run in report.pipeline]
    lines = [
        "### (a) Throughput: pre-published requests, zero-latency provider",
        "",
        info.header(),
        "",
        "| run | requests | req/s | × raw | worker CPU µs/req | broker µs/req "
        "| simulator µs/req | CPU used by others (cores) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in rows:
        ratio = run.rate / raw.rate if raw.rate else 0.0
        flag = "" if run.complete else f" (incomplete: {run.delivered}/{run.sent})"
        flag += f" (stopped: {_cell(run.failure)})" if run.failure else ""
        lines.append(
            f"| {run.label}{flag} | {run.sent:,} | {run.rate:,.0f} | {ratio:.3f} "
            f"| {_per_request(run, 'workers')} | {_per_request(run, 'broker')} "
            f"| {_per_request(run, 'simulator')} | {_cores(run.cpu_s, 'other', run.seconds)} |"
        )
    met = best.rate >= THROUGHPUT_GOAL_RPS and report.ratio >= THROUGHPUT_GOAL_RATIO
    lines += [
        "",
        f"Best pipeline: **{best.rate:,.0f} req/s** ({shape.label}), "
        f"**{report.ratio:.3f}×** the raw pass-through's {raw.rate:,.0f} req/s. "
        f"Goal ≥{THROUGHPUT_GOAL_RPS:,.0f} req/s and ≥{THROUGHPUT_GOAL_RATIO}×: {_verdict(met)}.",
    ]
    if report.whatif is not None:
        w_shape, w_run = report.whatif
        same = [
            run
            for s, run in report.pipeline
            if not s.whatif
            and (s.max_in_flight, s.split, s.routers)
            == (w_shape.max_in_flight, w_shape.split, w_shape.routers)
        ]
        versus = f"{w_run.rate / same[0].rate:.1f}× the same shape as is, " if same else ""
        lines += [
            "",
            f"What-if (bench.whatif: the recommended provider change, product code unchanged): "
            f"{w_run.rate:,.0f} req/s ({versus}{w_run.rate / raw.rate:.3f}× raw).",
        ]
    lines += [
        "",
        "CPU per request is each process's user+system time over the measured span divided "
        "by the requests; *CPU used by others* is the machine's busy time not spent by any "
        "process of the benchmark (other users of this machine), in cores.",
    ]
    return "\n".join(lines)


# -- (b) ----------------------------------------------------------------------------------


def _others(run: LoadRun) -> float:
    """Cores that processes outside the benchmark kept busy during the run."""
    ours = sum(v for k, v in run.cpu_s.items() if k != "machine")
    return max(0.0, run.cpu_s.get("machine", 0.0) - ours) / run.window_s if run.window_s else 0.0


def _load_row(run: LoadRun) -> str:
    unanswered = run.offered - run.delivered
    extra = f", {unanswered:,} unanswered" if unanswered else ""
    if run.sent < run.offered:
        extra += f" ({run.offered - run.sent:,} of them never sent: the client fell behind)"
    if run.failure:
        extra += f"; stopped early: {_cell(run.failure)}"
    return (
        f"| {run.label} | {run.rate:g} × {run.duration_s:g} s = {run.offered:,} "
        f"| {run.delivered_rate:,.0f} | {_ms(run.e2e_percentile(50))} "
        f"| {_ms(run.e2e_percentile(99))} | {run.success:.2%}{extra} "
        f"| {run.max_send_lag_ms:,.0f} ms | {_cores(run.cpu_s, 'machine', run.window_s)} "
        f"| {_others(run):.2f} |"
    )


def _ratio_line(label: str, pipeline: LoadRun, baseline: LoadRun) -> str:
    rate = pipeline.delivered_rate / baseline.delivered_rate if baseline.delivered_rate else 0.0
    base_p99 = baseline.e2e_percentile(99)
    p99 = pipeline.e2e_percentile(99) / base_p99 if base_p99 else math.inf
    p99_text = "unbounded (requests left unanswered)" if math.isinf(p99) else f"{p99:.2f}×"
    return f"{label}: throughput **{rate:.2f}×**, p99 **{p99_text}**."


def render_load(report: LoadReport, info: RunInfo) -> str:
    p, base = report.pipeline, report.baseline
    pipelines = [p, *([report.whatif] if report.whatif else [])]
    lines = [
        "### (b) Load: open loop, 1.5 s provider latency, workers as separate processes",
        "",
        info.header(),
        "",
        "| run | offered | delivered req/s | p50 | p99 | ok | sender behind schedule "
        "| machine busy (cores) | of which others |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _load_row(p),
        _load_row(base),
        *[_load_row(r) for r in pipelines[1:]],
        "",
        "Latency is measured from each request's scheduled send time (so a sender that "
        "fell behind does not hide the wait) to its result; a request still unanswered "
        "after the drain counts as never answered.",
        "",
        _ratio_line("Pipeline over the SDK baseline", p, base),
    ]
    if report.whatif is not None:
        lines.append(_ratio_line("What-if pipeline over the SDK baseline", report.whatif, base))
    lines += [
        "",
        "Where a pipeline request's time goes (ms; delivered requests only; p50 / p99):",
        "",
        "| span | " + " | ".join(r.label for r in pipelines) + " |",
        "| --- |" + " ---: |" * len(pipelines),
    ]
    spans: list[tuple[str, list[list[float]]]] = [
        ("publish → result seen (end to end)", [r.e2e_ms for r in pipelines]),
        ("result.latency_ms (created_at → routed)", [r.result_ms for r in pipelines]),
        ("provider call, as the router timed it", [r.provider_ms for r in pipelines]),
        (
            "before the call: classifier, its commit, router fetch, queueing",
            [[a - b for a, b in zip(r.result_ms, r.provider_ms, strict=False)] for r in pipelines],
        ),
        ("after the answer: hold + transaction + read", [r.after_ms for r in pipelines]),
        ("of which head-of-line hold (prefix commits)", [r.hold_ms for r in pipelines]),
    ]
    for name, values in spans:
        lines.append(f"| {name} | " + " | ".join(_p50_p99(v) for v in values) + " |")
    lines.append("")
    for r in pipelines:
        rss = ", ".join(
            f"{name} {mib:,.0f} MiB" if not math.isnan(mib) else f"{name} – (exited)"
            for name, mib in r.peak_rss_mib.items()
        )
        cpu = ", ".join(
            f"{name} {_cores(r.cpu_s, name, r.window_s)}" for name in r.cpu_s if name != "machine"
        )
        lines.append(f"- {r.label}: peak RSS (VmHWM) {rss}; CPU in cores: {cpu}.")
    lines += ["", _load_goals(p)]
    if len(pipelines) > 1:
        lines += ["", _load_goals(pipelines[1])]
    return "\n".join(lines)


def _p50_p99(values: Sequence[float]) -> str:
    if not values:
        return "–"
    return f"{percentile(values, 50):,.0f} / {percentile(values, 99):,.0f}"


def _load_goals(p: LoadRun) -> str:
    rss_ok = bool(p.peak_rss_mib) and all(v <= RSS_GOAL_MIB for v in p.peak_rss_mib.values())
    checks = [
        (f"≥{LOAD_GOAL_RPS:g} req/s delivered", p.delivered_rate >= LOAD_GOAL_RPS),
        (f"p99 ≤{LOAD_GOAL_P99_MS:,.0f} ms", p.e2e_percentile(99) <= LOAD_GOAL_P99_MS),
        ("100% ok", p.ok == p.offered),
        (f"≤{RSS_GOAL_MIB:g} MiB per worker", rss_ok),
    ]
    return f"Goals, {p.label}: " + "; ".join(f"{n} {_verdict(ok)}" for n, ok in checks) + "."


# -- (c) ----------------------------------------------------------------------------------


def _timing_row(t: Timing, base: Timing) -> str:
    return (
        f"| {t.label} | {t.p50_us:,.2f} | {t.p99_us:,.2f} | {t.p999_us:,.2f} | {t.mean_us:,.2f} "
        f"| {t.p50_us / base.p50_us:,.0f}× | {t.p99_us / base.p99_us:,.0f}× |"
    )


def render_decision(report: DecisionReport, info: RunInfo) -> str:
    base = report.baseline
    rows = [report.full, report.classify, report.decide, base]
    lines = [
        "### (c) Routing decision in process (customer-support-qa, `support-rules`)",
        "",
        info.header(),
        "",
        "| µs per decision | p50 | p99 | p99.9 | mean | p50 × lookup | p99 × lookup |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[_timing_row(t, base) for t in rows],
        "",
        f"{report.full.iterations:,} iterations each, cycling through the eval set's "
        f"questions with mixed user tiers; timer overhead "
        f"{report.timer_ns:.0f} ns per sample (included in every row). "
        f"Goal p99 ≤{DECISION_GOAL_P99_US:g} µs: "
        f"{_verdict(report.full.p99_us <= DECISION_GOAL_P99_US)} "
        f"({report.full.p99_us:,.1f} µs).",
    ]
    return "\n".join(lines)


# -- profiles -----------------------------------------------------------------------------


def render_profiles(profiles: Iterable[Profile], info: RunInfo) -> str:
    lines = ["### Where the worker's time goes (py-spy)", "", info.header(), ""]
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

Figures from `make bench` (`python -m bench`); see bench/__init__.py for what each
benchmark does. The blocks below are rewritten by each run.

<!-- bench:a -->
<!-- /bench:a -->

<!-- bench:b -->
<!-- /bench:b -->

<!-- bench:c -->
<!-- /bench:c -->

<!-- bench:profile -->
<!-- /bench:profile -->

## History

| date | code | command | (a) best req/s, × raw | (b) delivered req/s, p99 | (c) p99 µs |
| --- | --- | --- | --- | --- | --- |
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

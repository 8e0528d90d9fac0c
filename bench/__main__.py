"""`python -m bench [--only a|b|c] [--quick] [--duration-s S] [--what-if] [--profile]`.

Prints each benchmark's figures as Markdown and writes them to docs/BENCHMARKS.md (a
`--quick` smoke run does not, unless `--docs` names a file).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.decision import DecisionReport, run_decision
from bench.harness import REPO, Machine, local_broker
from bench.load import LoadReport, run_load
from bench.profiling import Profiler
from bench.report import (
    RunInfo,
    render_decision,
    render_load,
    render_profiles,
    render_throughput,
    update_docs,
)
from bench.throughput import Shape, ThroughputReport, run_throughput
from llmrouter.core.logging import configure_logging

DOCS = REPO / "docs" / "BENCHMARKS.md"


@dataclass(frozen=True)
class Plan:
    """How big each benchmark is: the full run fits in ~6 minutes, --quick in one."""

    requests: int
    passthrough_requests: int
    shapes: tuple[Shape, ...]
    rate: float
    duration_s: float
    drain_s: float
    iterations: int


FULL = Plan(
    requests=3000,
    passthrough_requests=30_000,
    shapes=(
        Shape(1024, classifier_only=True),
        Shape(256),
        Shape(1024),
        Shape(256, split=True, routers=2),
        Shape(1024, whatif=True),
    ),
    rate=500,
    duration_s=60,
    drain_s=10,
    iterations=100_000,
)
QUICK = Plan(
    requests=500,
    passthrough_requests=5000,
    shapes=(Shape(1024, classifier_only=True), Shape(256)),
    rate=500,
    duration_s=4,
    drain_s=4,
    iterations=20_000,
)


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=["a", "b", "c"], help="run one benchmark")
    parser.add_argument("--quick", action="store_true", help="short smoke run (< 1 minute)")
    parser.add_argument("--duration-s", type=float, help="(b): seconds of offered load")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="(b): also run the pipeline with the recommended provider change (bench.whatif)",
    )
    parser.add_argument(
        "--routers", type=int, default=1, help="(b): router worker processes (default 1)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the router worker with py-spy; py-spy slows what it samples, so only "
        "the profiles are written to the docs, not the figures",
    )
    parser.add_argument("--docs", type=Path, help=f"Markdown file to update (default {DOCS})")
    parser.add_argument("--no-docs", action="store_true", help="only print")
    parser.add_argument("--keep-logs", action="store_true", help="keep worker logs and configs")
    return parser.parse_args(argv)


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _code_version() -> str:
    """The commit measured, marked when the product code differs from it (bench/ and docs/
    do not count: they are not what is measured)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = git("status", "--porcelain", "--", *_PRODUCT)
    return f"{commit} + uncommitted changes" if changed else commit


_PRODUCT = ("schemas", "router", "workers", "producers", "simulator", "llmrouter", "pyproject.toml")


async def _main(args: argparse.Namespace, info: RunInfo, logs: Path) -> dict[str, str]:
    plan = QUICK if args.quick else FULL
    selected = [args.only] if args.only else ["a", "b", "c"]
    profiler = Profiler(logs) if args.profile else None
    blocks: dict[str, str] = {}
    throughput: ThroughputReport | None = None
    load: LoadReport | None = None
    decision: DecisionReport | None = None
    if "c" in selected:  # first: in process, and quickest to fail
        decision = run_decision(plan.iterations)
        blocks["c"] = render_decision(decision, info)
        print("\n" + blocks["c"] + "\n", flush=True)
    if "a" in selected or "b" in selected:
        bootstrap, broker_pid = await local_broker()
        if "a" in selected:
            throughput = await run_throughput(
                bootstrap,
                broker_pid,
                requests=plan.requests,
                passthrough_requests=plan.passthrough_requests,
                shapes=plan.shapes,
                logs=logs,
                profiler=profiler,
            )
            blocks["a"] = render_throughput(throughput, info)
            print("\n" + blocks["a"] + "\n", flush=True)
        if "b" in selected:
            load = await run_load(
                bootstrap,
                broker_pid,
                rate=plan.rate,
                duration_s=args.duration_s or plan.duration_s,
                drain_s=plan.drain_s,
                whatif=args.what_if,
                routers=args.routers,
                logs=logs,
                profiler=profiler,
            )
            blocks["b"] = render_load(load, info)
            print("\n" + blocks["b"] + "\n", flush=True)
    if profiler is not None and profiler.profiles:
        blocks["profile"] = render_profiles(profiler.profiles, info)
        print("\n" + blocks["profile"] + "\n", flush=True)
    blocks["history"] = _history_row(info, throughput, load, decision)
    return blocks


def _history_row(
    info: RunInfo,
    throughput: ThroughputReport | None,
    load: LoadReport | None,
    decision: DecisionReport | None,
) -> str:
    a = b = c = "–"
    if throughput is not None:
        a = f"{throughput.best[1].rate:,.0f}, {throughput.ratio:.3f}×"
    if load is not None:
        p99 = load.pipeline.e2e_percentile(99)
        p99_text = "∞" if p99 == float("inf") else f"{p99:,.0f} ms"
        b = f"{load.pipeline.delivered_rate:,.0f}, {p99_text}"
    if decision is not None:
        c = f"{decision.full.p99_us:,.1f}"
    return f"| {info.date} | {info.code} | `{info.command}` | {a} | {b} | {c} |"


def main(argv: list[str] | None = None) -> None:
    args = _args(sys.argv[1:] if argv is None else argv)
    # The workers log at info; the bench's own aiokafka clients should stay quiet.
    configure_logging("warning")
    python = (
        os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else "python"
    )
    info = RunInfo(
        command=shlex.join([python, "-m", "bench", *(sys.argv[1:] if argv is None else argv)]),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=Machine.detect(),
        load_before=_load_average(),
        code=_code_version(),
    )
    print(f"bench: {info.header()}", flush=True)
    logs = Path(tempfile.mkdtemp(prefix="llmrouter-bench-"))
    started = time.monotonic()
    try:
        blocks = asyncio.run(_main(args, info, logs))
    except BaseException:
        print(f"bench: logs kept in {logs}", file=sys.stderr)
        raise
    if args.keep_logs or args.profile:
        print(f"bench: logs and profiles in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    docs = args.docs or (None if args.quick or args.no_docs else DOCS)
    if docs is not None and not args.no_docs:
        history = blocks.pop("history")
        if args.profile:
            blocks = {"profile": blocks["profile"]} if "profile" in blocks else {}
            history = history.replace("` |", "` (profiled: figures not kept) |", 1)
        update_docs(docs, blocks, history)
        print(f"bench: figures written to {os.path.relpath(docs)}")
    print(f"bench: done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

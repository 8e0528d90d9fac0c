"""`python -m bench [--only a,b,c,d] [--systems pipeline,plain,litellm,passthrough]
[--duration-s S] [--profile]`.

Prints each benchmark's figures as Markdown and writes them to docs/BENCHMARKS.md (a run
shortened with `--duration-s` does not, unless `--docs` names a file).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.decision import DecisionReport, run_decision
from bench.harness import REPO, Machine, local_broker
from bench.litellm_env import LiteLLMEnv, litellm_env
from bench.profiling import Profiler
from bench.report import (
    RunInfo,
    history_row,
    render_decision,
    render_profiles,
    render_scenario,
    update_docs,
)
from bench.scenarios import SCENARIOS, SYSTEM_NAMES, ScenarioResult, run_scenario, selected
from llmrouter.core.logging import configure_logging

DOCS = REPO / "docs" / "BENCHMARKS.md"
ALL = ("a", "b", "c", "d")


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", default=",".join(ALL), help="benchmarks to run, e.g. `a` or `b,c` (default all)"
    )
    parser.add_argument(
        "--systems",
        default="",
        help="only these systems of (a)-(c), comma-separated: "
        f"{', '.join(SYSTEM_NAMES)} (`pipeline`: both pipeline rows)",
    )
    parser.add_argument(
        "--duration-s", type=float, help="seconds of offered load of (a)-(c), for short runs"
    )
    parser.add_argument(
        "--iterations", type=int, default=100_000, help="(d): decisions timed per row"
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
    args = parser.parse_args(argv)
    args.selected = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = set(args.selected) - set(ALL)
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {sorted(unknown)}; choose from {ALL}")
    args.system_names = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    unknown = set(args.system_names) - set(SYSTEM_NAMES)
    if unknown:
        parser.error(f"--systems: unknown system(s) {sorted(unknown)}; choose from {SYSTEM_NAMES}")
    return args


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
    profiler = Profiler(logs) if args.profile else None
    blocks: dict[str, str] = {}
    results: dict[str, ScenarioResult] = {}
    decision: DecisionReport | None = None
    if "d" in args.selected:  # first: in process, and quickest to fail
        decision = run_decision(args.iterations)
        blocks["d"] = render_decision(decision, info, _learned_decision())
        print("\n" + blocks["d"] + "\n", flush=True)
    scenarios = [k for k in ("a", "b", "c") if k in args.selected]
    if scenarios:
        bootstrap, broker_pid = await local_broker()
        systems: tuple[str, ...] = args.system_names
        litellm = await _litellm(scenarios, systems, logs)
        for key in scenarios:
            result = await run_scenario(
                SCENARIOS[key],
                bootstrap=bootstrap,
                broker_pid=broker_pid,
                logs=logs,
                duration_s=args.duration_s,
                profiler=profiler,
                only=systems,
                litellm=litellm,
            )
            results[key] = result
            blocks[key] = render_scenario(result, info)
            print("\n" + blocks[key] + "\n", flush=True)
    if profiler is not None and profiler.profiles:
        blocks["profile"] = render_profiles(profiler.profiles, info)
        print("\n" + blocks["profile"] + "\n", flush=True)
    blocks["history"] = history_row(info, results, decision)
    return blocks


async def _litellm(scenarios: list[str], only: tuple[str, ...], logs: Path) -> LiteLLMEnv | None:
    """The LiteLLM virtualenv, when a selected benchmark runs the `litellm` system."""
    wanted = any(
        system.kind == "litellm" and selected(system, only)
        for key in scenarios
        for system in SCENARIOS[key].systems
    )
    if not wanted:
        return None
    env = await litellm_env(logs / "litellm-venv.log")
    if env.python is None:
        print(f"  (LiteLLM not available: {env.reason})", file=sys.stderr, flush=True)
    return env


def _learned_decision() -> dict[str, float] | None:
    """The `strategy: learned` decision (bench/learned_decision.py), when this checkout
    has it: optional, the rule-based figures above stand without it."""
    try:
        module = importlib.import_module("bench.learned_decision")
    except ImportError:
        return None
    print("(d) learned route decision ...", flush=True)
    try:
        figures: dict[str, float] = module.run_learned_decision(20_000)
    except Exception as exc:  # an optional row must not cost the whole run
        print(f"  (learned decision failed: {exc!r})", file=sys.stderr)
        return None
    return figures


def main(argv: list[str] | None = None) -> None:
    args = _args(sys.argv[1:] if argv is None else argv)
    # The workers log at info; the bench's own aiokafka clients should stay quiet.
    configure_logging("warning")
    python = (
        os.path.relpath(sys.executable, REPO)
        if sys.executable.startswith(str(REPO))
        else sys.executable
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
    docs = args.docs or (None if args.no_docs or args.duration_s else DOCS)
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

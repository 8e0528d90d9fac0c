"""The three end-to-end benchmarks, each a set of open-loop runs (bench/openloop.py) of
different systems against one simulator and one broker, in one bench invocation:

(a) latency   150 req/s × 60 s, lognormal provider latency (median 1.5 s, p99 8 s):
              the pipeline vs the plain consumer (bench/plain.py), same concurrency
(b) load      500 req/s × 60 s, fixed 1.5 s: the pipeline vs the plain consumer
(c) capacity  1,500 req/s offered × 20 s, zero latency: the pipeline vs the plain
              consumer and the raw aiokafka pass-through

The pipeline is `llmrouter worker classifier` + `llmrouter worker router`, each its own
process, on their defaults (no tuning of in-flight work or anything else).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import start_simulator
from bench.openloop import Run, System, default_max_in_flight, measure
from bench.profiling import Profiler
from llmrouter.schemas import dumps

__all__ = ["SCENARIOS", "Scenario", "ScenarioResult", "run_scenario"]

PIPELINE = System("pipeline", "pipeline: classifier + router process (defaults)")
PLAIN = System("plain", "plain aiokafka + openai.AsyncOpenAI consumer (at-least-once)")
PASSTHROUGH = System("passthrough", "raw aiokafka pass-through (no provider call)")
BENCH_MODEL_ID = "gpt-3.5-turbo-0125"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    rate: float
    duration_s: float
    drain_s: float
    #: fixed provider latency, ms; None: the lognormal below
    latency_ms: float | None
    systems: tuple[System, ...]
    median_ms: float = 0.0
    p99_ms: float = 0.0


SCENARIOS = {
    "a": Scenario(
        "a",
        "(a) Latency: 150 req/s, lognormal provider latency (median 1.5 s, p99 8 s)",
        rate=150,
        duration_s=60,
        drain_s=30,
        latency_ms=None,
        systems=(PIPELINE, PLAIN),
        median_ms=1500,
        p99_ms=8000,
    ),
    "b": Scenario(
        "b",
        "(b) Load: 500 req/s, fixed 1.5 s provider latency",
        rate=500,
        duration_s=60,
        drain_s=15,
        latency_ms=1500,
        systems=(PIPELINE, PLAIN),
    ),
    "c": Scenario(
        "c",
        "(c) Capacity: 1,500 req/s offered, zero-latency provider",
        rate=1500,
        duration_s=20,
        drain_s=10,
        latency_ms=0,
        systems=(PIPELINE, PLAIN, PASSTHROUGH),
    ),
}


@dataclass
class ScenarioResult:
    scenario: Scenario
    duration_s: float
    concurrency: int
    runs: list[Run] = field(default_factory=list)

    def run_of(self, kind: str) -> Run | None:
        return next((run for run in self.runs if run.kind == kind), None)


def _sim_config(scenario: Scenario, logs: Path) -> Path | None:
    if scenario.latency_ms is not None:
        return None
    path = logs / f"simulator-{scenario.key}.yaml"
    profile = {
        "latency_median_ms": scenario.median_ms,
        "latency_p95_ms": scenario.p99_ms,  # only checked to be >= the median
        "latency_p99_ms": scenario.p99_ms,
    }
    path.write_bytes(dumps({"seed": 7, "models": {BENCH_MODEL_ID: profile}}))
    return path


async def run_scenario(
    scenario: Scenario,
    *,
    bootstrap: str,
    broker_pid: int | None,
    logs: Path,
    duration_s: float | None = None,
    profiler: Profiler | None = None,
    only: tuple[str, ...] = (),
) -> ScenarioResult:
    """Every system of `scenario` in turn (or those of kinds `only`), on one simulator."""
    duration = duration_s or scenario.duration_s
    result = ScenarioResult(scenario, duration, default_max_in_flight())
    latency = "lognormal" if scenario.latency_ms is None else f"{scenario.latency_ms:g} ms"
    print(f"{scenario.title}: {scenario.rate:g} req/s × {duration:g} s, {latency}", flush=True)
    config = _sim_config(scenario, logs)
    async with contextlib.AsyncExitStack() as stack:
        sim, sim_url = await stack.enter_async_context(
            start_simulator(scenario.latency_ms, logs, config)
        )
        for system in scenario.systems:
            if only and system.kind not in only:
                continue
            run = await measure(
                system,
                rate=scenario.rate,
                duration_s=duration,
                drain_s=scenario.drain_s,
                bootstrap=bootstrap,
                broker_pid=broker_pid,
                sim=sim,
                sim_url=sim_url,
                logs=logs,
                profiler=profiler if system.kind == "pipeline" else None,
                profile_label=f"({scenario.key}) pipeline at {scenario.rate:g} req/s",
            )
            result.runs.append(run)
    return result

"""The three end-to-end benchmarks, each a set of open-loop runs (bench/openloop.py) of
different systems against one simulator and one broker, in one bench invocation:

(a) latency   150 req/s × 60 s, lognormal provider latency (median 1.5 s, p99 8 s):
              the pipeline (static route) vs the plain consumer (bench/plain.py) and
              the LiteLLM consumer (bench/litellm_consumer.py), same concurrency
(b) load      500 req/s × 60 s, fixed 1.5 s: the pipeline with a static and with a
              complexity route vs the plain and LiteLLM consumers and the raw
              pass-through holding each record 1.5 s (the floor)
(c) capacity  3,000 req/s offered × 20 s, zero latency: the same five systems

The pipeline is `llmrouter worker classifier` + `llmrouter worker router`, each its own
process, on their defaults (no tuning of in-flight work or anything else).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import start_simulator
from bench.litellm_env import PINS, LiteLLMEnv
from bench.openloop import Run, System, default_max_in_flight, measure
from bench.profiling import Profiler
from llmrouter.schemas import dumps

__all__ = ["SCENARIOS", "SYSTEM_NAMES", "Scenario", "ScenarioResult", "run_scenario", "selected"]

PIPELINE_STATIC = System(
    "pipeline-static", "pipeline", "pipeline, static route: classifier + router process"
)
PIPELINE_COMPLEXITY = System(
    "pipeline-complexity",
    "pipeline",
    "pipeline, complexity route (rules classifier, 3 models): classifier + router process",
    routing="complexity",
)
PLAIN = System("plain", "plain", "plain aiokafka + openai.AsyncOpenAI consumer (at-least-once)")
LITELLM = System(
    "litellm",
    "litellm",
    f"aiokafka + LiteLLM Router consumer (at-least-once, {PINS[0].replace('==', ' ')})",
)
PASSTHROUGH = System("passthrough", "passthrough", "raw aiokafka pass-through (no provider call)")
#: what `--systems` accepts: a system's name, or a kind (`pipeline`: both pipeline rows)
SYSTEM_NAMES = (
    "pipeline",
    *(s.name for s in (PIPELINE_STATIC, PIPELINE_COMPLEXITY, PLAIN, LITELLM, PASSTHROUGH)),
)
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
        systems=(PIPELINE_STATIC, PLAIN, LITELLM),
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
        systems=(PIPELINE_STATIC, PIPELINE_COMPLEXITY, PLAIN, LITELLM, PASSTHROUGH),
    ),
    "c": Scenario(
        "c",
        "(c) Capacity: 3,000 req/s offered, zero-latency provider",
        rate=3000,
        duration_s=20,
        drain_s=10,
        latency_ms=0,
        systems=(PIPELINE_STATIC, PIPELINE_COMPLEXITY, PLAIN, LITELLM, PASSTHROUGH),
    ),
}


@dataclass
class ScenarioResult:
    scenario: Scenario
    duration_s: float
    concurrency: int
    runs: list[Run] = field(default_factory=list)

    def run_of(self, name: str) -> Run | None:
        """The run of the system named `name`, if it ran (and could run)."""
        return next(
            (run for run in self.runs if run.name == name and run.unavailable is None), None
        )


def selected(system: System, only: tuple[str, ...]) -> bool:
    """Whether `--systems` (`only`; empty: all) names `system`, by name or by kind."""
    return not only or system.name in only or system.kind in only


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
    litellm: LiteLLMEnv | None = None,
) -> ScenarioResult:
    """Every system of `scenario` in turn (or those `only` names), on one simulator.
    A `litellm` system without its virtualenv (`litellm`, made beforehand) is reported
    as not available."""
    duration = duration_s or scenario.duration_s
    result = ScenarioResult(scenario, duration, default_max_in_flight())
    latency = "lognormal" if scenario.latency_ms is None else f"{scenario.latency_ms:g} ms"
    print(f"{scenario.title}: {scenario.rate:g} req/s × {duration:g} s, {latency}", flush=True)
    config = _sim_config(scenario, logs)
    delay_ms = scenario.latency_ms or 0.0
    async with contextlib.AsyncExitStack() as stack:
        sim, sim_url = await stack.enter_async_context(
            start_simulator(scenario.latency_ms, logs, config)
        )
        for system in scenario.systems:
            if not selected(system, only):
                continue
            if system.kind == "passthrough" and delay_ms:
                label = f"{system.label[: -len(')')]}, holds each record {delay_ms:,.0f} ms)"
                system = dataclasses.replace(system, label=label)
            if system.kind == "litellm" and (litellm is None or litellm.python is None):
                reason = litellm.reason if litellm is not None else "no virtualenv made"
                print(f"    {system.label}: not available ({reason})", flush=True)
                result.runs.append(
                    Run(
                        system.label,
                        scenario.rate,
                        duration,
                        kind=system.kind,
                        name=system.name,
                        unavailable=reason,
                    )
                )
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
                profile_label=f"({scenario.key}) {system.name} at {scenario.rate:g} req/s",
                provider_delay_ms=delay_ms if system.kind == "passthrough" else 0.0,
                litellm_python=litellm.python if litellm is not None else None,
            )
            result.runs.append(run)
    return result

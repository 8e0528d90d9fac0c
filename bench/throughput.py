"""(a) Throughput: how many requests per second the full pipeline finishes, end to end,
against the simplest aiokafka consume→produce loop on the same broker.

Every run gets N requests published *before* its processes start, so the figure is pure
processing, not the publisher's speed. The clock starts when the head of the pipeline
(the classifier, or the pass-through) logs that it owns partitions, and stops when the
bench's read_committed reader has seen the last of the N outputs: for the pipeline, a
committed result (classifier → router → one provider call on a zero-latency simulator →
result and cost event, in one transaction with the offsets).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer, ConsumerRecord

from bench.harness import (
    Child,
    RunNames,
    TopicReader,
    delete_topics,
    ensure_topics,
    first_dead,
    machine_busy_s,
    process_cpu_s,
    start_simulator,
    start_workers,
    started,
    worker_env,
)
from bench.profiling import Profiler
from bench.workload import bench_config, request_bytes, support_examples
from llmrouter.schemas import classified_topic, requests_topic, results_topic
from llmrouter.schemas.topics import router_topics

__all__ = ["Shape", "ThroughputReport", "ThroughputRun", "run_throughput"]

PARTITIONS = 3  # the product's default (LLMROUTER_PARTITIONS), for every topic here
_OK = b'"status":"ok"'


@dataclass(frozen=True)
class Shape:
    """Which worker processes a pipeline run starts."""

    max_in_flight: int
    #: False: one `llmrouter run`; True: `llmrouter worker classifier` + `routers` ×
    #: `llmrouter worker router`, each its own process
    split: bool = False
    routers: int = 1
    #: only the classifier, measured up to `llm.classified.<task>` (no provider call)
    classifier_only: bool = False
    #: run the workers through bench.whatif (the recommended provider change applied)
    whatif: bool = False

    @property
    def label(self) -> str:
        if self.classifier_only:
            what = "classifier worker alone (no provider call)"
        elif self.split:
            what = f"pipeline: classifier + {self.routers} router process(es)"
        else:
            what = "pipeline: `llmrouter run` (one process)"
        fix = " [what-if: post() instead of create()]" if self.whatif else ""
        return f"{what}, max_in_flight={self.max_in_flight}{fix}"


@dataclass
class ThroughputRun:
    label: str
    sent: int
    delivered: int = 0
    ok: int = 0
    seconds: float = 0.0
    #: CPU seconds each process used while the clock ran (workers, simulator, broker, bench)
    cpu_s: dict[str, float] = field(default_factory=dict)
    complete: bool = False
    #: why the run stopped early (a process under test exited), if it did
    failure: str | None = None

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def cpu_us_per_request(self, name: str) -> float | None:
        used = self.cpu_s.get(name)
        return used / self.delivered * 1e6 if used is not None and self.delivered else None


@dataclass
class ThroughputReport:
    passthrough: ThroughputRun
    classifier: ThroughputRun | None
    pipeline: list[tuple[Shape, ThroughputRun]]

    @property
    def best(self) -> tuple[Shape, ThroughputRun]:
        """The fastest run of the product as it is (what-if runs excluded)."""
        product = [item for item in self.pipeline if not item[0].whatif] or self.pipeline
        return max(product, key=lambda item: item[1].rate)

    @property
    def whatif(self) -> tuple[Shape, ThroughputRun] | None:
        runs = [item for item in self.pipeline if item[0].whatif]
        return max(runs, key=lambda item: item[1].rate) if runs else None

    @property
    def ratio(self) -> float:
        base = self.passthrough.rate
        return self.best[1].rate / base if base else 0.0


class _Collector:
    """Counts distinct outputs by key (the request_id) from the reader's fetches."""

    def __init__(self, expected: int, *, check_ok: bool) -> None:
        self.expected = expected
        self.check_ok = check_ok
        self.keys: set[bytes] = set()
        self.ok = 0
        self.duplicates = 0
        self.last_at = 0.0
        self.done = asyncio.Event()

    def __call__(self, records: list[ConsumerRecord[bytes, bytes]], mono: float, _: float) -> None:
        for record in records:
            if record.key in self.keys:
                self.duplicates += 1
                continue
            self.keys.add(record.key)
            # A byte search, not a parse: the bench shares the CPUs it measures.
            if not self.check_ok or _OK in record.value:
                self.ok += 1
        self.last_at = mono
        if len(self.keys) >= self.expected:
            self.done.set()


class _CpuMeter:
    """CPU seconds per process between `start` and `used` (read before anything stops)."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self._pids = pids
        self._start: dict[str, float | None] = {}
        self._machine = 0.0

    def start(self) -> None:
        self._start = {name: process_cpu_s(pid) for name, pid in self._pids.items()}
        self._machine = machine_busy_s()

    def used(self) -> dict[str, float]:
        """Per process, plus `machine` (every core) and `other` (machine minus ours)."""
        used: dict[str, float] = {}
        for name, pid in self._pids.items():
            before, after = self._start.get(name), process_cpu_s(pid)
            if before is not None and after is not None:
                used[name] = after - before
        used["machine"] = machine_busy_s() - self._machine
        used["other"] = max(0.0, used["machine"] - sum(used[n] for n in self._pids if n in used))
        return used


async def publish(bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
    """Publish everything as fast as the client allows (before the clock starts)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _measure(
    run: ThroughputRun,
    head: Child,
    children: Sequence[Child],
    collector: _Collector,
    reader: TopicReader,
    cpu: _CpuMeter,
    profile: tuple[Profiler, Child] | None = None,
) -> None:
    """From `head` owning partitions to the last output: fills `run` in place. With
    `profile`, that child is sampled over the same span (start-up is not what we study)."""
    t0 = await head.wait_for("partitions assigned", timeout_s=120)
    cpu.start()
    recording = profile[0].attach(profile[1].pid, f"(a) {run.label}") if profile else None
    # Bounded: a stalled pipeline ends the run with what it delivered by then.
    deadline = time.monotonic() + 60 + run.sent / 100
    try:
        while not collector.done.is_set() and time.monotonic() < deadline:
            reader.check()
            run.failure = first_dead(children)
            if run.failure is not None:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(collector.done.wait(), timeout=0.5)
    finally:
        run.cpu_s = cpu.used()
        if recording is not None:
            await recording.finish()
    run.delivered, run.ok = len(collector.keys), collector.ok
    run.seconds = (collector.last_at or time.monotonic()) - t0
    run.complete = collector.done.is_set() and collector.duplicates == 0


async def passthrough_run(
    bootstrap: str, broker_pid: int | None, n: int, logs: Path
) -> ThroughputRun:
    names = RunNames.new()
    source, sink = f"bench.passthrough.{names.suffix}.in", f"bench.passthrough.{names.suffix}.out"
    examples = support_examples()
    run = ThroughputRun("raw aiokafka pass-through (one process)", n)
    try:
        await ensure_topics(bootstrap, dict.fromkeys([source, sink], PARTITIONS))
        messages = [request_bytes("bench-raw", examples[i % len(examples)]) for i in range(n)]
        await publish(bootstrap, source, messages)
        collector = _Collector(n, check_ok=False)
        argv = [sys.executable, "-m", "bench.passthrough", "--bootstrap", bootstrap]
        argv += ["--group", names.group_prefix + "passthrough", "--source", source, "--sink", sink]
        child = Child("passthrough", argv, logs / f"passthrough-{names.suffix}.log")
        async with TopicReader(bootstrap, [sink], collector) as reader, started(child):
            cpu = _CpuMeter({"workers": child.pid, "broker": broker_pid, "bench": os.getpid()})
            await _measure(run, child, [child], collector, reader, cpu)
    finally:
        await delete_topics(bootstrap, [source, sink])
    return run


async def pipeline_run(
    bootstrap: str,
    broker_pid: int | None,
    n: int,
    shape: Shape,
    *,
    sim: Child,
    sim_url: str,
    logs: Path,
    profiler: Profiler | None,
) -> ThroughputRun:
    names = RunNames.new()
    task = names.task("a")
    examples = support_examples()
    output = classified_topic(task) if shape.classifier_only else results_topic(task)
    run = ThroughputRun(shape.label, n)
    try:
        await ensure_topics(bootstrap, router_topics([task], partitions=PARTITIONS))
        messages = [request_bytes(task, examples[i % len(examples)]) for i in range(n)]
        await publish(bootstrap, requests_topic(task), messages)
        config = bench_config(logs / f"config-{names.suffix}.yaml", task, max_concurrency=4096)
        env = worker_env(
            bootstrap,
            sim_url,
            task,
            names,
            max_in_flight=shape.max_in_flight,
            config=config,
            partitions=PARTITIONS,
        )
        collector = _Collector(n, check_ok=not shape.classifier_only)
        async with contextlib.AsyncExitStack() as stack:
            reader = await stack.enter_async_context(TopicReader(bootstrap, [output], collector))
            children = await start_workers(
                stack,
                env,
                logs,
                routers=0 if shape.classifier_only else shape.routers,
                split=shape.split or shape.classifier_only,
                launcher="bench.whatif" if shape.whatif else "llmrouter",
            )
            pids: dict[str, int | None] = {c.name: c.pid for c in children}
            pids |= {"simulator": sim.pid, "broker": broker_pid, "bench": os.getpid()}
            # The busiest process is the one worth sampling: the router (or the only one).
            profile = (profiler, children[0]) if profiler else None
            cpu = _CpuMeter(pids)
            await _measure(run, children[-1], children, collector, reader, cpu, profile)
        workers = [c.name for c in children]
        run.cpu_s["workers"] = sum(run.cpu_s.get(name, 0.0) for name in workers)
    finally:
        await delete_topics(
            bootstrap, [requests_topic(task), classified_topic(task), results_topic(task)]
        )
    return run


async def run_throughput(
    bootstrap: str,
    broker_pid: int | None,
    *,
    requests: int,
    passthrough_requests: int,
    shapes: Sequence[Shape],
    logs: Path,
    profiler: Profiler | None = None,
) -> ThroughputReport:
    print(f"(a) throughput: {requests} pre-published requests per pipeline run", flush=True)
    raw = await passthrough_run(bootstrap, broker_pid, passthrough_requests, logs)
    _progress(raw)
    classifier: ThroughputRun | None = None
    pipeline: list[tuple[Shape, ThroughputRun]] = []
    async with start_simulator(0, logs) as (sim, sim_url):
        for shape in shapes:
            # The classifier alone is fast: give it the pass-through's N for a long enough run.
            n = passthrough_requests if shape.classifier_only else requests
            run = await pipeline_run(
                bootstrap,
                broker_pid,
                n,
                shape,
                sim=sim,
                sim_url=sim_url,
                logs=logs,
                profiler=None if shape.classifier_only else profiler,
            )
            _progress(run)
            if shape.classifier_only:
                classifier = run
            else:
                pipeline.append((shape, run))
    return ThroughputReport(raw, classifier, pipeline)


def _progress(run: ThroughputRun) -> None:
    flag = "" if run.complete else f"  INCOMPLETE: {run.delivered}/{run.sent}"
    flag += f" ({run.failure})" if run.failure else ""
    print(f"    {run.label}: {run.rate:,.0f} req/s{flag}", flush=True)

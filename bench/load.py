"""(b) Load: a fixed offered rate for a fixed time against providers that take 1.5 s, with the
classifier and the router as separate processes; against the same load sent straight to
the simulator through the openai SDK (no Kafka, no router).

Open loop: send i is due at start + i/rate whatever happened to the earlier ones (a closed
loop would slow down with the system and hide its queueing). For every request we know
when it was sent and when the bench's read_committed reader saw its result, and each
result carries `latency_ms` (created_at → routed), the provider call's latency and
`finished_at`, which split the end-to-end time into: before the provider call (classifier,
its transaction, the router's fetch), the call, and after it (head-of-line hold behind
earlier records of the partition, the router's transaction, the reader's fetch).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import openai
from aiokafka import AIOKafkaProducer, ConsumerRecord

from bench.harness import (
    Child,
    RunNames,
    TopicReader,
    delete_topics,
    ensure_topics,
    first_dead,
    machine_busy_s,
    percentile,
    process_cpu_s,
    start_simulator,
    start_workers,
    worker_env,
)
from bench.profiling import Profiler
from bench.workload import BENCH_MODEL, Example, bench_config, request_bytes, support_examples
from llmrouter.router import load_config
from llmrouter.router.prompts import render_prompt
from llmrouter.router.providers.transport import aiohttp_client
from llmrouter.schemas import classified_topic, loads, requests_topic, results_topic
from llmrouter.schemas.topics import router_topics

__all__ = ["LoadReport", "LoadRun", "run_load"]

PROVIDER_LATENCY_MS = 1500.0
#: the product's default partition count; with several routers, the next multiple of their
#: count, so that no router serves more partitions than another
PARTITIONS = 3
#: enough for rate × latency requests in flight at once, with room for head-of-line holds
MAX_IN_FLIGHT = 2048


@dataclass
class LoadRun:
    label: str
    rate: float
    duration_s: float
    #: handed to the client; below `offered` when the sender could not keep up by the end
    sent: int = 0
    delivered: int = 0
    ok: int = 0
    #: how far the sender ever fell behind its schedule (the bench's own CPU limit), ms
    max_send_lag_ms: float = 0.0
    first_at: float = 0.0
    last_at: float = 0.0
    #: publish → result seen by the reader (pipeline) / call → response (SDK baseline), ms
    e2e_ms: list[float] = field(default_factory=list)
    #: result.latency_ms: the request's created_at → the router finished it, ms
    result_ms: list[float] = field(default_factory=list)
    #: the answering provider call, as the router timed it, ms
    provider_ms: list[float] = field(default_factory=list)
    #: result seen by the reader − result.finished_at: hold + transaction + fetch, ms
    after_ms: list[float] = field(default_factory=list)
    #: head-of-line hold: how long a finished result waited for earlier ones, ms
    hold_ms: list[float] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    #: through Kafka and the workers (else: the SDK straight to the simulator)
    pipeline: bool = False
    #: CPU seconds per process (and `machine`: every core) over `window_s`: from the first
    #: send to the end of the drain
    cpu_s: dict[str, float] = field(default_factory=dict)
    window_s: float = 0.0
    #: why the run stopped early (a worker process exited), if it did
    failure: str | None = None

    @property
    def delivered_rate(self) -> float:
        """Answered requests per second: over the first-to-last result span (a system that
        keeps up answers `rate` per second over about `duration_s`), but never over less
        than the offered duration (a backlog answered in a late burst is not throughput)."""
        span = max(self.last_at - self.first_at, self.duration_s)
        return self.delivered / span if self.delivered else 0.0

    @property
    def offered(self) -> int:
        return int(self.rate * self.duration_s)

    @property
    def success(self) -> float:
        return self.ok / self.offered if self.offered else 0.0

    def e2e_percentile(self, q: float) -> float:
        """Over every request offered: one never answered counts as infinitely late."""
        missing = [math.inf] * (self.offered - len(self.e2e_ms))
        return percentile(self.e2e_ms + missing, q)


@dataclass
class LoadReport:
    pipeline: LoadRun
    baseline: LoadRun
    #: the pipeline with bench.whatif (the recommended provider change), when asked for
    whatif: LoadRun | None = None

    @property
    def throughput_ratio(self) -> float:
        base = self.baseline.delivered_rate
        return self.pipeline.delivered_rate / base if base else 0.0

    @property
    def p99_ratio(self) -> float:
        base = self.baseline.e2e_percentile(99)
        return self.pipeline.e2e_percentile(99) / base if base else math.inf


async def _open_loop(
    run: LoadRun,
    send: Callable[[int, float], None],
    drain_s: float,
    check: Callable[[], str | None],
) -> float:
    """Call send(i, due) at due = start + i/rate, for rate × duration requests, never waiting
    on one. Latencies are measured from `due`, not from when send ran: a sender that fell
    behind (its process saturated) must not hide the wait from the figures. Returns the
    run's deadline, duration + drain_s after the start: a sender still behind by then stops
    (what it never sent counts as offered and unanswered), and so does the wait for
    results, which bounds every run's time whatever the system under test does. `check`
    names a failure (a worker process that exited) that ends the run at once."""
    start = time.monotonic() + 0.05
    deadline = start + run.duration_s + drain_s
    for i in range(run.offered):
        now = time.monotonic()
        if now > deadline:
            break
        if i % 100 == 0 and (failure := check()) is not None:
            run.failure = failure
            break
        delay = start + i / run.rate - now
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            run.max_send_lag_ms = max(run.max_send_lag_ms, -delay * 1000)
            await asyncio.sleep(0)  # behind schedule: still let the readers run
        send(i, start + i / run.rate)
        run.sent += 1
    return deadline


class _Results:
    """Parses each result once, as it arrives, into the run's latency lists."""

    def __init__(self, run: LoadRun, sent_at: dict[str, float]) -> None:
        self.run = run
        self.sent_at = sent_at
        self.seen: set[str] = set()
        self.done = asyncio.Event()
        self.sending_done = False
        #: latest finished_at so far per partition: results of a partition are committed
        #: in the order of their input records, so a result finished before this waited
        self._frontier: dict[int, float] = {}

    def __call__(
        self, records: list[ConsumerRecord[bytes, bytes]], mono: float, wall: float
    ) -> None:
        run = self.run
        for record in records:
            result = loads(record.value)
            request_id = result["request_id"]
            if request_id in self.seen or request_id not in self.sent_at:
                continue
            self.seen.add(request_id)
            run.delivered += 1
            run.first_at = run.first_at or mono
            run.last_at = mono
            run.e2e_ms.append((mono - self.sent_at[request_id]) * 1000)
            if result["status"] == "ok":
                run.ok += 1
            run.result_ms.append(result["latency_ms"])
            if result["attempts"]:
                run.provider_ms.append(result["attempts"][-1]["latency_ms"])
            finished = datetime.fromisoformat(result["finished_at"]).timestamp()
            run.after_ms.append((wall - finished) * 1000)
            frontier = max(self._frontier.get(record.partition, finished), finished)
            self._frontier[record.partition] = frontier
            run.hold_ms.append((frontier - finished) * 1000)
        if run.delivered >= run.sent > 0 and self.sending_done:
            self.done.set()


async def _drain(run: LoadRun, done: asyncio.Event, deadline: float, watch: list[Child]) -> None:
    """Wait for the outstanding results until `deadline` (a saturated system never catches
    up; the run then reports what it delivered), or until a worker process exits (a
    result too: the run says so)."""
    while not done.is_set() and time.monotonic() < deadline and run.failure is None:
        run.failure = first_dead(watch)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=0.5)


async def pipeline_load(
    bootstrap: str,
    broker_pid: int | None,
    run: LoadRun,
    *,
    sim: Child,
    sim_url: str,
    drain_s: float,
    logs: Path,
    profiler: Profiler | None,
    launcher: str = "llmrouter",
    routers: int = 1,
) -> None:
    names = RunNames.new()
    task = names.task("b")
    partitions = routers * math.ceil(PARTITIONS / routers)
    topics = [requests_topic(task), classified_topic(task), results_topic(task)]
    examples = support_examples()
    sent_at: dict[str, float] = {}
    results = _Results(run, sent_at)
    try:
        await ensure_topics(bootstrap, router_topics([task], partitions=partitions))
        config = bench_config(logs / f"config-{names.suffix}.yaml", task, max_concurrency=4096)
        env = worker_env(
            bootstrap,
            sim_url,
            task,
            names,
            max_in_flight=MAX_IN_FLIGHT,
            config=config,
            partitions=partitions,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        async with contextlib.AsyncExitStack() as stack:
            await producer.start()
            stack.push_async_callback(producer.stop)
            await stack.enter_async_context(TopicReader(bootstrap, [results_topic(task)], results))
            children = await start_workers(
                stack, env, logs, routers=routers, split=True, launcher=launcher
            )
            await children[-1].wait_for("partitions assigned", timeout_s=120)
            pids: dict[str, int | None] = {c.name: c.pid for c in children}
            pids |= {"simulator": sim.pid, "broker": broker_pid, "bench": os.getpid()}
            cpu_before = {name: process_cpu_s(pid) for name, pid in pids.items()}
            machine_before, window_start = machine_busy_s(), time.monotonic()
            recording = profiler.attach(children[0].pid, f"(b) {run.label}") if profiler else None
            deliveries: list[asyncio.Task[None]] = []
            topic = requests_topic(task)

            async def publish(key: bytes, value: bytes) -> None:
                delivered = await producer.send(topic, value, key=key)
                await delivered

            def send(i: int, due: float) -> None:
                key, value = request_bytes(task, examples[i % len(examples)])
                sent_at[key.decode()] = due
                deliveries.append(asyncio.create_task(publish(key, value)))

            try:
                deadline = await _open_loop(run, send, drain_s, lambda: first_dead(children))
                results.sending_done = True
                if run.delivered >= run.sent:
                    results.done.set()
                await _drain(run, results.done, deadline, children)
            finally:
                if recording is not None:
                    await recording.finish()
            # Read before anything stops: VmHWM and CPU die with the process.
            for child in children:
                run.peak_rss_mib[child.name] = child.peak_rss_mib() or math.nan
            for name, pid in pids.items():
                before, after = cpu_before[name], process_cpu_s(pid)
                if before is not None and after is not None:
                    run.cpu_s[name] = after - before
            run.cpu_s["machine"] = machine_busy_s() - machine_before
            run.window_s = time.monotonic() - window_start
            # Every send was accepted by the broker (unless a crash ended the run early).
            await asyncio.gather(*deliveries, return_exceptions=run.failure is not None)
    finally:
        await delete_topics(bootstrap, topics)


async def sdk_load(
    run: LoadRun,
    *,
    sim: Child,
    sim_url: str,
    broker_pid: int | None,
    drain_s: float,
    logs: Path,
) -> None:
    """The same open loop, straight to the simulator through the openai SDK built as the
    router builds it (its HTTP client from router/providers/transport.py), with the very
    prompt the router would render for each request."""
    task = "bench-b-baseline"
    config = load_config(bench_config(logs / "config-baseline.yaml", task, max_concurrency=1))
    spec = config.tasks[task]
    model_id = config.models[BENCH_MODEL].model_id
    examples = support_examples()
    client = openai.AsyncOpenAI(
        base_url=f"{sim_url}/v1",
        api_key="sk-bench",
        max_retries=0,
        http_client=aiohttp_client(openai),
    )
    done = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def call(example: Example, due: float) -> None:
        prompt = render_prompt(spec.prompt, BENCH_MODEL, example.input, example.context)
        messages: list[dict[str, str]] = [{"role": "system", "content": prompt.system or ""}]
        messages.append({"role": "user", "content": prompt.user})
        try:
            await client.chat.completions.create(
                model=model_id,
                messages=messages,  # type: ignore[arg-type]
                max_completion_tokens=config.defaults.max_output_tokens,
                temperature=config.defaults.temperature,
                timeout=config.defaults.timeout_s,
            )
            run.ok += 1
        except openai.OpenAIError:
            pass
        now = time.monotonic()
        run.delivered += 1
        run.first_at = run.first_at or now
        run.last_at = now
        run.e2e_ms.append((now - due) * 1000)
        if run.delivered >= run.sent and sending_done:
            done.set()

    def send(i: int, due: float) -> None:
        task_ = asyncio.create_task(call(examples[i % len(examples)], due))
        tasks.add(task_)
        task_.add_done_callback(tasks.discard)

    sending_done = False
    # The broker idles through this run; counted so that it is not taken for other users.
    pids = {"bench (SDK client)": os.getpid(), "simulator": sim.pid, "broker": broker_pid}
    cpu_before = {name: process_cpu_s(pid) or 0.0 for name, pid in pids.items()}
    machine_before, window_start = machine_busy_s(), time.monotonic()
    try:
        deadline = await _open_loop(run, send, drain_s, lambda: None)
        sending_done = True
        if run.delivered >= run.sent:
            done.set()
        await _drain(run, done, deadline, [])
    finally:
        for pending in tasks:
            pending.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()
    for name, pid in pids.items():
        run.cpu_s[name] = (process_cpu_s(pid) or 0.0) - cpu_before[name]
    run.cpu_s["machine"] = machine_busy_s() - machine_before
    run.window_s = time.monotonic() - window_start


async def run_load(
    bootstrap: str,
    broker_pid: int | None,
    *,
    rate: float,
    duration_s: float,
    drain_s: float,
    whatif: bool,
    routers: int,
    logs: Path,
    profiler: Profiler | None = None,
) -> LoadReport:
    """The pipeline (classifier + `routers` router processes), then the SDK baseline, at
    the same rate; with `whatif`, then the pipeline again with bench.whatif."""
    print(
        f"(b) load: {rate:g} req/s for {duration_s:g} s, provider latency "
        f"{PROVIDER_LATENCY_MS:g} ms",
        flush=True,
    )
    shape = "router process" if routers == 1 else f"{routers} router processes"
    pipeline = LoadRun(f"pipeline: classifier + {shape}", rate, duration_s, pipeline=True)
    baseline = LoadRun("baseline: openai SDK straight to the simulator", rate, duration_s)
    report = LoadReport(pipeline, baseline)
    async with start_simulator(PROVIDER_LATENCY_MS, logs) as (sim, sim_url):
        await pipeline_load(
            bootstrap,
            broker_pid,
            pipeline,
            sim=sim,
            sim_url=sim_url,
            drain_s=drain_s,
            logs=logs,
            profiler=profiler,
            routers=routers,
        )
        _progress(pipeline)
        await sdk_load(
            baseline, sim=sim, sim_url=sim_url, broker_pid=broker_pid, drain_s=drain_s, logs=logs
        )
        _progress(baseline)
        if whatif:
            report.whatif = LoadRun(
                f"what-if: classifier + {shape} through bench.whatif",
                rate,
                duration_s,
                pipeline=True,
            )
            await pipeline_load(
                bootstrap,
                broker_pid,
                report.whatif,
                sim=sim,
                sim_url=sim_url,
                drain_s=drain_s,
                logs=logs,
                profiler=None,
                launcher="bench.whatif",
                routers=routers,
            )
            _progress(report.whatif)
    return report


def _progress(run: LoadRun) -> None:
    print(
        f"    {run.label}: {run.delivered_rate:,.0f} req/s delivered, "
        f"p50 {run.e2e_percentile(50):,.0f} ms, p99 {run.e2e_percentile(99):,.0f} ms, "
        f"{run.success:.2%} ok",
        flush=True,
    )

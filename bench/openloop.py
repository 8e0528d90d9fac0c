"""One open-loop run: a fixed offered rate for a fixed time into a requests topic, against
one system under test (the pipeline's worker processes, or a plain consumer), with every
request's latency taken from its *scheduled* send time to the moment the bench's
read_committed reader sees its answer.

Open loop: send i is due at start + i/rate whatever happened to the earlier ones (a closed
loop would slow down with the system and hide its queueing), and a sender that falls
behind its schedule cannot hide the wait either. The run stops at duration + drain; what
is unanswered then counts as never answered (infinitely late in the percentiles).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

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
    start_workers,
    started,
    worker_env,
)
from bench.profiling import Profiler
from bench.workload import RequestMaker, bench_config, support_examples
from llmrouter.router.providers.transport import POOL_SIZE
from llmrouter.schemas import loads, requests_topic, results_topic
from llmrouter.schemas.topics import COSTS_TOPIC, router_topics
from llmrouter.workers.launch import WorkerSettings

__all__ = ["PARTITIONS", "Run", "System", "default_max_in_flight", "measure"]

#: the product's default partition count
PARTITIONS = 3


def default_max_in_flight() -> int:
    """The worker's default `max_in_flight`, read from the code measured (so the plain
    consumer gets the same concurrency whatever the default is at that commit)."""
    default = WorkerSettings.model_fields["max_in_flight"].default
    if not isinstance(default, int):
        raise RuntimeError("WorkerSettings has no integer max_in_flight default")
    return default


@dataclass(frozen=True)
class System:
    """What answers the requests, by `kind`: `pipeline` (classifier + router processes on
    their defaults, the bench task routed by `routing`: bench/workload.py), `plain`
    (bench/plain.py calling the openai SDK), `litellm` (bench/litellm_consumer.py calling
    a LiteLLM Router, in its own virtualenv) or `passthrough` (bench/plain.py copying
    records). `name` tells the rows of one benchmark apart (and is what `--systems`
    names)."""

    name: str
    kind: str
    label: str
    routing: str = "static"
    routers: int = 1


@dataclass
class Run:
    label: str
    rate: float
    duration_s: float
    #: the System's kind
    kind: str = ""
    #: the System's name
    name: str = ""
    #: why the system could not run at all (it has no figures then)
    unavailable: str | None = None
    sent: int = 0
    delivered: int = 0
    ok: int = 0
    #: cost events of this run's requests seen on the costs topic (pipeline only)
    costs: int = 0
    max_send_lag_ms: float = 0.0
    first_at: float = 0.0
    last_at: float = 0.0
    #: scheduled send → answer seen by the reader, ms
    e2e_ms: list[float] = field(default_factory=list)
    #: the answering provider call as the router timed it, ms (pipeline only)
    provider_ms: list[float] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    #: CPU seconds per process over `window_s` (`machine`: every core, every process)
    cpu_s: dict[str, float] = field(default_factory=dict)
    window_s: float = 0.0
    failure: str | None = None

    @property
    def offered(self) -> int:
        return int(self.rate * self.duration_s)

    @property
    def delivered_rate(self) -> float:
        """Answers per second over the first-to-last answer span, never over less than the
        offered duration (a backlog answered in a late burst is not throughput)."""
        span = max(self.last_at - self.first_at, self.duration_s)
        return self.delivered / span if self.delivered else 0.0

    @property
    def answered(self) -> float:
        return self.delivered / self.offered if self.offered else 0.0

    @property
    def ok_share(self) -> float:
        return self.ok / self.offered if self.offered else 0.0

    def e2e_percentile(self, q: float) -> float:
        missing = [math.inf] * max(0, self.offered - len(self.e2e_ms))
        return percentile(self.e2e_ms + missing, q)

    def cores(self, name: str) -> float:
        return self.cpu_s.get(name, math.nan) / self.window_s if self.window_s else math.nan


class _Answers:
    """Parses each answer once, as it arrives."""

    def __init__(self, run: Run, sent_at: dict[str, float]) -> None:
        self.run = run
        self.sent_at = sent_at
        self.seen: set[str] = set()
        self.done = asyncio.Event()
        self.sending_done = False

    def __call__(
        self, records: list[ConsumerRecord[bytes, bytes]], mono: float, wall: float
    ) -> None:
        run = self.run
        for record in records:
            answer = loads(record.value)
            request_id = answer.get("request_id")
            if request_id in self.seen or request_id not in self.sent_at:
                continue
            self.seen.add(request_id)
            run.delivered += 1
            run.first_at = run.first_at or mono
            run.last_at = mono
            run.e2e_ms.append((mono - self.sent_at[request_id]) * 1000)
            if answer.get("status", "ok") == "ok":  # the pass-through copies requests
                run.ok += 1
            if attempts := answer.get("attempts"):
                run.provider_ms.append(attempts[-1]["latency_ms"])
        if run.delivered >= run.sent > 0 and self.sending_done:
            self.done.set()


class _Costs:
    def __init__(self, run: Run, sent_at: dict[str, float]) -> None:
        self.run, self.sent_at = run, sent_at
        #: set once `target` cost events were seen (the drain sets the target)
        self.done = asyncio.Event()
        self.target = 0

    def __call__(self, records: list[ConsumerRecord[bytes, bytes]], *_: float) -> None:
        for record in records:
            if loads(record.value).get("request_id") in self.sent_at:
                self.run.costs += 1
        self.check()

    def check(self) -> None:
        if self.target and self.run.costs >= self.target:
            self.done.set()


@contextlib.asynccontextmanager
async def _costs_reader(bootstrap: str, on_batch: _Costs) -> AsyncIterator[None]:
    """The shared costs topic from its current end (older events are other runs')."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [
            TopicPartition(COSTS_TOPIC, p) for p in consumer.partitions_for_topic(COSTS_TOPIC) or ()
        ]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end now, before any event of this run exists
            await consumer.position(tp)

        async def read() -> None:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=10_000)
                for records in batch.values():
                    on_batch(records)

        task = asyncio.create_task(read())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await consumer.stop()


async def _start_consumer(
    stack: contextlib.AsyncExitStack,
    system: System,
    *,
    python: Path,
    bootstrap: str,
    sim_url: str,
    names: RunNames,
    task: str,
    logs: Path,
    delay_ms: float,
) -> list[Child]:
    """A baseline consumer process: bench/plain.py (`plain`, `passthrough`) on `python`,
    or bench/litellm_consumer.py (`litellm`) on its virtualenv's `python`."""
    module = "bench.litellm_consumer" if system.kind == "litellm" else "bench.plain"
    argv = [str(python), "-m", module, "--bootstrap", bootstrap]
    argv += ["--topic", requests_topic(task), "--out", results_topic(task)]
    argv += ["--group", f"{names.group_prefix}{system.kind}", "--base-url", f"{sim_url}/v1"]
    argv += ["--concurrency", str(default_max_in_flight())]
    if system.kind == "passthrough":
        argv += ["--passthrough", "--delay-ms", f"{delay_ms:g}"]
    if system.kind == "litellm":
        argv += ["--pool-size", str(POOL_SIZE)]
    child = Child(system.kind, argv, logs / f"{system.kind}-{names.suffix}.log")
    await stack.enter_async_context(started(child, stop_timeout_s=10))
    return [child]


async def _wait_for_readers(children: list[Child], topic: str) -> None:
    """Wait until every worker process that reads `topic` owns its partitions (the routers
    were waited for as they started). A worker whose subscription (the pattern it logs as
    it starts) does not take `topic` has nothing to wait for: the router may read a
    static task's requests itself, leaving the classifier idle."""
    for child in children:
        if child.name.startswith("router"):
            continue
        started_event = await child.logged("worker started", timeout_s=120)
        pattern = started_event.get("pattern")
        if not isinstance(pattern, str) or re.match(pattern, topic):  # as aiokafka matches
            await child.wait_for("partitions assigned", timeout_s=120)


async def _open_loop(
    run: Run,
    send: Callable[[int, float], Awaitable[None]],
    drain_s: float,
    check: Callable[[], str | None],
) -> float:
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
            if i % 20 == 0:
                await asyncio.sleep(0)  # behind schedule: still let the readers run
        await send(i, start + i / run.rate)
        run.sent += 1
    return deadline


async def measure(
    system: System,
    *,
    rate: float,
    duration_s: float,
    drain_s: float,
    bootstrap: str,
    broker_pid: int | None,
    sim: Child,
    sim_url: str,
    logs: Path,
    profiler: Profiler | None = None,
    profile_label: str = "",
    provider_delay_ms: float = 0.0,
    litellm_python: Path | None = None,
) -> Run:
    """One run of `system` at `rate` for `duration_s` (+ `drain_s` to catch up).

    `provider_delay_ms`: how long the pass-through holds each record (the provider
    latency of the benchmark, without a provider). `litellm_python`: the LiteLLM
    virtualenv's interpreter (a `litellm` system needs it)."""
    run = Run(system.label, rate, duration_s, kind=system.kind, name=system.name)
    names = RunNames.new()
    task = names.task(system.kind[:5])
    pipeline = system.kind == "pipeline"
    partitions = system.routers * math.ceil(PARTITIONS / system.routers)
    own_topics = [requests_topic(task), results_topic(task)]
    if pipeline:
        topics = router_topics([task], partitions)
        own_topics = [t for t in topics if t not in (COSTS_TOPIC,) and task in t]
        await ensure_topics(bootstrap, topics)
    else:
        await ensure_topics(bootstrap, {t: partitions for t in own_topics})
    make_request = RequestMaker(task, support_examples())
    sent_at: dict[str, float] = {}
    answers = _Answers(run, sent_at)
    costs = _Costs(run, sent_at)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    try:
        async with contextlib.AsyncExitStack() as stack:
            await producer.start()
            stack.push_async_callback(producer.stop)
            await stack.enter_async_context(TopicReader(bootstrap, [results_topic(task)], answers))
            if pipeline:
                await stack.enter_async_context(_costs_reader(bootstrap, costs))
                config = bench_config(
                    logs / f"config-{names.suffix}.yaml",
                    task,
                    max_concurrency=100_000,
                    routing=system.routing,
                )
                env = worker_env(
                    bootstrap, sim_url, task, names, config=config, partitions=partitions
                )
                children = await start_workers(stack, env, logs, routers=system.routers, split=True)
            else:
                python = litellm_python if system.kind == "litellm" else Path(sys.executable)
                assert python is not None, "a litellm system needs its virtualenv"
                children = await _start_consumer(
                    stack,
                    system,
                    python=python,
                    bootstrap=bootstrap,
                    sim_url=sim_url,
                    names=names,
                    task=task,
                    logs=logs,
                    delay_ms=provider_delay_ms,
                )
            if pipeline:
                await _wait_for_readers(children, requests_topic(task))
            else:
                await children[-1].wait_for("partitions assigned", timeout_s=120)
            pids: dict[str, int | None] = {c.name: c.pid for c in children}
            pids |= {"simulator": sim.pid, "broker": broker_pid, "bench": os.getpid()}
            cpu_before = {name: process_cpu_s(pid) for name, pid in pids.items()}
            machine_before, window_start = machine_busy_s(), time.monotonic()
            label = profile_label or run.label
            recordings = (
                [profiler.attach(c.pid, f"{label}, {c.name} process") for c in children]
                if profiler
                else []
            )
            deliveries: list[asyncio.Future[object]] = []
            topic = requests_topic(task)

            async def send(i: int, due: float) -> None:
                key, value = make_request(i)
                sent_at[key.decode()] = due
                # Awaited here, not wrapped in a task: `send` only appends to a batch (it
                # waits when the producer's buffer is full, which the send lag then shows),
                # and a sender behind schedule piled up tasks that cost it ever more CPU.
                deliveries.append(await producer.send(topic, value, key=key))

            try:
                deadline = await _open_loop(run, send, drain_s, lambda: first_dead(children))
                answers.sending_done = True
                if run.delivered >= run.sent:
                    answers.done.set()
                while (
                    not answers.done.is_set()
                    and time.monotonic() < deadline
                    and run.failure is None
                ):
                    run.failure = first_dead(children)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(answers.done.wait(), timeout=0.5)
                if pipeline:  # the last cost events ride in the same transactions
                    costs.target = run.delivered
                    costs.check()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(costs.done.wait(), timeout=2)
            finally:
                for recording in recordings:
                    await recording.finish()
            for child in children:  # before anything stops: VmHWM and CPU die with it
                run.peak_rss_mib[child.name] = child.peak_rss_mib() or math.nan
            for name, pid in pids.items():
                before, after = cpu_before[name], process_cpu_s(pid)
                if before is not None and after is not None:
                    run.cpu_s[name] = after - before
            run.cpu_s["machine"] = machine_busy_s() - machine_before
            run.window_s = time.monotonic() - window_start
            await asyncio.gather(*deliveries, return_exceptions=True)
    finally:
        await delete_topics(bootstrap, own_topics)
    _progress(run)
    return run


def _progress(run: Run) -> None:
    print(
        f"    {run.label}: {run.delivered_rate:,.0f} req/s delivered, "
        f"p50 {run.e2e_percentile(50):,.0f} ms, p99 {run.e2e_percentile(99):,.0f} ms, "
        f"{run.answered:.2%} answered"
        + (f", {run.costs:,} cost events" if run.costs else "")
        + (f", sender up to {run.max_send_lag_ms:,.0f} ms late" if run.max_send_lag_ms else "")
        + (f" [{run.failure}]" if run.failure else ""),
        flush=True,
    )

"""`python -m bench.shadow [--rate 200] [--seconds 60] [--latency-ms 100] [--shadow-rate 1.0]
[--judge-rate 0.5] [--rounds 1] [--quality-nice N] [--shadow-provider separate|shared]`:
does shadow traffic slow the live answers?

The same open-loop live load runs with shadow off and on, alternating `rounds` times, in
one run, against a provider simulator at a fixed latency: off, the live pipeline alone
(router and classifier worker processes); on, the quality worker (`llmrouter worker
quality`, at its default niceness unless `--quality-nice`) beside them, mirroring
`shadow-rate` of the answered requests to a shadow model and grading `judge-rate` of the
live and shadow answers with a judge. The quality worker's calls go to a simulator of
their own (`separate`, at the same niceness: a provider's servers are not on the router's
host) or to the live one (`shared`). Each request's latency runs from its scheduled send
time to the moment a read_committed reader sees its answer. Prints each run's live p50 /
p99, the provider latency the router saw, every process's CPU seconds, and how many
shadow answers and scores the quality worker published while the live load ran (so a
run where the shadow did nothing cannot pass for a fast one); then the p99 ratio of each
pair, and with more than one round, of all rounds' requests pooled beside the spread of
the off runs' own p99 (what this host varies between identical runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord

from bench.harness import (
    Child,
    RunNames,
    TopicReader,
    delete_topics,
    ensure_topics,
    first_dead,
    free_port,
    local_broker,
    percentile,
    process_cpu_s,
    start_simulator,
    start_workers,
    started,
    worker_env,
)
from bench.workload import RequestMaker, bench_config, support_examples
from llmrouter.kafkaio.reading import start_group_at_end
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.schemas import dumps, loads, requests_topic, results_topic
from llmrouter.schemas.scores import SCORES_TOPIC, shadow_topic
from llmrouter.schemas.topics import FEEDBACK_TOPIC, router_topics
from llmrouter.workers.quality.build import QUALITY_GROUP

PARTITIONS = 3
#: the shadow candidate and the judge: catalog models of their own (another provider's
#: model for the shadow), so the live model's limits and clients are not theirs
SHADOW_MODEL = "bench-shadow"
JUDGE_MODEL = "bench-judge"
_EXTRA_MODELS: dict[str, dict[str, Any]] = {
    SHADOW_MODEL: {
        "provider": "anthropic",
        "model_id": "claude-3-haiku-20240307",
        "input_usd_per_1k": 0.00025,
        "output_usd_per_1k": 0.00125,
    },
    JUDGE_MODEL: {
        "provider": "openai",
        "model_id": "gpt-4o-2024-08-06",
        "input_usd_per_1k": 0.0025,
        "output_usd_per_1k": 0.01,
    },
}


@dataclass
class ShadowRun:
    label: str
    rate: float
    seconds: float
    sent: int = 0
    delivered: int = 0
    max_send_lag_ms: float = 0.0
    e2e_ms: list[float] = field(default_factory=list)
    #: the answering provider call as the router timed it, ms
    provider_ms: list[float] = field(default_factory=list)
    #: CPU seconds of each process over the run
    cpu_s: dict[str, float] = field(default_factory=dict)
    shadow_answers: int = 0
    scores: int = 0
    failure: str | None = None

    @property
    def offered(self) -> int:
        return int(self.rate * self.seconds)

    def latencies_ms(self) -> list[float]:
        """Every offered request's latency, infinite for one never answered."""
        return self.e2e_ms + [math.inf] * max(0, self.offered - len(self.e2e_ms))

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms(), q)


def _pooled(runs: list[ShadowRun], q: float) -> float:
    """The `q` percentile of every request of `runs` together."""
    return percentile([ms for run in runs for ms in run.latencies_ms()], q)


def _config(path: Path, task: str, *, shadow_rate: float, judge_rate: float) -> Path:
    """The bench task's static config, plus (when either rate is above 0) its shadow model,
    judge and a budget no run spends."""
    bench_config(path, task, max_concurrency=100_000)
    config = loads(path.read_bytes())
    config["models"].update(
        {k: {**v, "max_concurrency": 100_000} for k, v in _EXTRA_MODELS.items()}
    )
    spec = config["tasks"][task]
    if shadow_rate > 0:
        spec["shadow"] = {
            "rate": shadow_rate,
            "models": [SHADOW_MODEL],
            "daily_budget_usd": 1_000_000,
        }
    if judge_rate > 0:
        spec["judge"] = {"model": JUDGE_MODEL, "sample_rate": judge_rate}
    path.write_bytes(dumps(config))
    return path


async def _run(
    label: str,
    *,
    shadow: bool,
    args: argparse.Namespace,
    bootstrap: str,
    sim: Child,
    sim_url: str,
    shadow_sim: tuple[Child, str],
    broker_pid: int | None,
    logs: Path,
) -> ShadowRun:
    run = ShadowRun(label, args.rate, args.seconds)
    names = RunNames.new()
    task = names.task("shadow")
    topics = router_topics([task], PARTITIONS)
    topics[shadow_topic(task)] = PARTITIONS
    topics[SCORES_TOPIC] = PARTITIONS
    own = [t for t in topics if task in t]
    await ensure_topics(bootstrap, topics)
    config = _config(
        logs / f"config-{names.suffix}.json",
        task,
        shadow_rate=args.shadow_rate if shadow else 0.0,
        judge_rate=args.judge_rate if shadow else 0.0,
    )
    env = worker_env(bootstrap, sim_url, task, names, config=config, partitions=PARTITIONS)
    make_request = RequestMaker(task, support_examples())
    sent_at: dict[str, float] = {}
    seen: set[str] = set()
    all_in = asyncio.Event()

    def on_results(records: list[ConsumerRecord[bytes, bytes]], mono: float, _: float) -> None:
        for record in records:
            answer = loads(record.value)
            rid = answer.get("request_id")
            if rid in sent_at and rid not in seen:
                seen.add(rid)
                run.delivered += 1
                run.e2e_ms.append((mono - sent_at[rid]) * 1000)
                if attempts := answer.get("attempts"):
                    run.provider_ms.append(attempts[-1]["latency_ms"])
        if run.delivered >= run.offered:
            all_in.set()

    def on_watch(records: list[ConsumerRecord[bytes, bytes]], *_: float) -> None:
        for record in records:
            body = loads(record.value)
            if body.get("task") != task or body.get("request_id") not in sent_at:
                continue
            if record.topic == SCORES_TOPIC:
                run.scores += 1
            else:
                run.shadow_answers += 1

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    try:
        async with contextlib.AsyncExitStack() as stack:
            await producer.start()
            stack.push_async_callback(producer.stop)
            await stack.enter_async_context(
                TopicReader(bootstrap, [results_topic(task)], on_results)
            )
            await stack.enter_async_context(
                TopicReader(bootstrap, [shadow_topic(task), SCORES_TOPIC], on_watch)
            )
            children = await start_workers(stack, env, logs, routers=1, split=True)
            for child in children:
                if child.name == "classifier":
                    await child.wait_for("worker started", timeout_s=120)
            if shadow:
                await _skip_history(bootstrap, names.group_prefix + QUALITY_GROUP)
                quality_env = {
                    **env,
                    "LLMROUTER_INSTANCE_ID": f"{names.instance_id}-quality",
                    "LLMROUTER_SIMULATOR_URL": shadow_sim[1],
                }
                if args.quality_nice is not None:
                    quality_env["LLMROUTER_QUALITY_NICE"] = str(args.quality_nice)
                quality = Child(
                    "quality",
                    [sys.executable, "-m", "llmrouter", "worker", "quality"],
                    logs / f"quality-{names.suffix}.log",
                    quality_env,
                )
                await stack.enter_async_context(started(quality))
                await quality.wait_for("partitions assigned", timeout_s=120)
                children.append(quality)
            pids = {c.name: c.pid for c in children} | {"simulator": sim.pid, "bench": os.getpid()}
            if broker_pid is not None:
                pids["broker"] = broker_pid
            if shadow and shadow_sim[0] is not sim:
                pids["shadow-simulator"] = shadow_sim[0].pid
            cpu_before = {name: process_cpu_s(pid) for name, pid in pids.items()}
            await _open_loop(run, producer, requests_topic(task), make_request, sent_at, children)
            deadline = time.monotonic() + args.drain_s
            while not all_in.is_set() and time.monotonic() < deadline and run.failure is None:
                run.failure = first_dead(children)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_in.wait(), timeout=0.5)
            for name, pid in pids.items():
                before, after = cpu_before[name], process_cpu_s(pid)
                if before is not None and after is not None:
                    run.cpu_s[name] = after - before
    finally:
        await delete_topics(bootstrap, own)
    print(
        f"  {run.label}: {run.delivered:,}/{run.offered:,} answered, "
        f"p50 {run.p(50):,.0f} ms, p99 {run.p(99):,.0f} ms (provider p50 "
        f"{percentile(run.provider_ms, 50):,.0f} ms, p99 {percentile(run.provider_ms, 99):,.0f} ms), "
        f"{run.shadow_answers:,} shadow answers, {run.scores:,} scores; CPU s "
        + ", ".join(f"{name} {cpu:.1f}" for name, cpu in sorted(run.cpu_s.items()))
        + (f", sender up to {run.max_send_lag_ms:,.0f} ms late" if run.max_send_lag_ms else "")
        + (f" [{run.failure}]" if run.failure else ""),
        flush=True,
    )
    return run


@contextlib.asynccontextmanager
async def _shadow_simulator(
    args: argparse.Namespace, logs: Path, shared: tuple[Child, str]
) -> AsyncIterator[tuple[Child, str]]:
    """Where the quality worker's calls go: the live simulator (`--shadow-provider shared`)
    or a simulator of their own (`separate`, the default), started at the quality
    worker's niceness. A provider's servers are not on the router's host: one simulator
    answering live and shadow calls on the same two cores would make shadow calls slow
    the live provider, which no real provider does for a few hundred calls a second."""
    if args.shadow_provider == "shared":
        yield shared
        return
    port = free_port()
    nice = 10 if args.quality_nice is None else args.quality_nice
    argv = ["nice", "-n", str(nice), sys.executable, "-m", "llmrouter.simulator"]
    argv += ["--port", str(port), "--latency-ms", str(args.latency_ms)]
    child = Child("shadow-simulator", argv, logs / f"shadow-simulator-{port}.log")
    async with started(child, stop_timeout_s=10):
        await child.wait_for("simulator listening on", timeout_s=60)
        yield child, f"http://127.0.0.1:{port}"


async def _skip_history(bootstrap: str, group: str) -> None:
    """Start the quality group at the end of the shared topics it reads: llm.scores and
    llm.feedback hold every earlier run's records, work that is not this run's."""
    await start_group_at_end(
        KafkaSettings(bootstrap_servers=bootstrap), group, (SCORES_TOPIC, FEEDBACK_TOPIC)
    )


async def _open_loop(
    run: ShadowRun,
    producer: AIOKafkaProducer,
    topic: str,
    make_request: RequestMaker,
    sent_at: dict[str, float],
    children: list[Child],
) -> None:
    """Send i is due at start + i / rate, whatever happened to the earlier ones."""
    start = time.monotonic() + 0.05
    for i in range(run.offered):
        if i % 100 == 0 and (failure := first_dead(children)) is not None:
            run.failure = failure
            return
        due = start + i / run.rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            run.max_send_lag_ms = max(run.max_send_lag_ms, -delay * 1000)
            if i % 20 == 0:
                await asyncio.sleep(0)
        key, value = make_request(i)
        sent_at[key.decode()] = due
        await producer.send(topic, value, key=key)
        run.sent += 1
    await producer.flush()


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.shadow", description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="live requests per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of offered load")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="provider latency")
    parser.add_argument("--shadow-rate", type=float, default=1.0)
    parser.add_argument("--judge-rate", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1, help="off/on pairs, alternating")
    parser.add_argument(
        "--quality-nice",
        type=int,
        help="the quality worker's LLMROUTER_QUALITY_NICE (default: the product's default)",
    )
    parser.add_argument(
        "--shadow-provider",
        choices=("separate", "shared"),
        default="separate",
        help="the quality worker's calls to a simulator of their own (default) or the live one",
    )
    parser.add_argument("--drain-s", type=float, default=30.0)
    parser.add_argument("--keep-logs", action="store_true")
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace, logs: Path) -> int:
    bootstrap, broker_pid = await local_broker()
    await ensure_topics(bootstrap, {SCORES_TOPIC: PARTITIONS, FEEDBACK_TOPIC: PARTITIONS})
    load = _load_average()
    print(
        f"shadow benchmark: {args.rate:g} req/s x {args.seconds:g} s, provider "
        f"{args.latency_ms:g} ms, shadow rate {args.shadow_rate:g}, judge rate "
        f"{args.judge_rate:g}; load average before: {load}",
        flush=True,
    )
    offs: list[ShadowRun] = []
    ons: list[ShadowRun] = []
    async with (
        start_simulator(args.latency_ms, logs) as (sim, sim_url),
        _shadow_simulator(args, logs, (sim, sim_url)) as shadow_sim,
    ):
        for round_ in range(1, args.rounds + 1):
            for shadow, runs in ((False, offs), (True, ons)):
                label = f"shadow {'on' if shadow else 'off'} #{round_}"
                run = await _run(
                    label,
                    shadow=shadow,
                    args=args,
                    bootstrap=bootstrap,
                    sim=sim,
                    sim_url=sim_url,
                    shadow_sim=shadow_sim,
                    broker_pid=broker_pid,
                    logs=logs,
                )
                runs.append(run)
    for off, on in zip(offs, ons, strict=True):
        print(
            f"{on.label}: live p50 {off.p(50):,.0f} -> {on.p(50):,.0f} ms "
            f"({on.p(50) / off.p(50):.3f}x); live p99 {off.p(99):,.0f} -> {on.p(99):,.0f} ms "
            f"({on.p(99) / off.p(99):.3f}x)",
            flush=True,
        )
    if len(offs) > 1:
        off_p99 = [run.p(99) for run in offs]
        print(
            f"all rounds pooled: live p50 {_pooled(offs, 50):,.0f} -> {_pooled(ons, 50):,.0f} ms "
            f"({_pooled(ons, 50) / _pooled(offs, 50):.3f}x); live p99 {_pooled(offs, 99):,.0f} "
            f"-> {_pooled(ons, 99):,.0f} ms ({_pooled(ons, 99) / _pooled(offs, 99):.3f}x); "
            f"the off runs' p99 alone spread {min(off_p99):,.0f}-{max(off_p99):,.0f} ms "
            f"({max(off_p99) / min(off_p99):.3f}x)",
            flush=True,
        )
    print(f"load average after: {_load_average()}", flush=True)
    failed = any(r.failure for r in offs + ons) or any(r.shadow_answers == 0 for r in ons)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    logs = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    try:
        return asyncio.run(_main(args, logs))
    finally:
        if args.keep_logs:
            print(f"logs kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

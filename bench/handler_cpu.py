"""`python -m bench.handler_cpu [--routing static|complexity] [--records N] [--profile F]
[--latency-ms L]`: CPU per record of the workers' handlers, in process, and the process's
memory.

The router's handler (and, for a complexity route, the classifier's before it) is driven
with N synthetic records of the bench task, C at a time, against a zero-latency simulator
in its own process; the CPU time of this process divided by N is what a worker spends on
a record besides Kafka (the runtime's fetch, transactions and commits are not in it). With
`--profile` the run is also profiled with cProfile, and the top functions are printed.
With `--latency-ms` the simulator answers after that long, so `--concurrency` calls are in
flight at once (what the router holds at 500 req/s of 1.5 s calls is 750); the process's
resident memory (RSS) before the first record and at its peak is printed either way.
The collector is tuned as in a worker process unless `--default-gc`.
Quick to run (seconds), for measuring one change at a time; `python -m bench --only c`
measures the whole pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import ConsumerRecord

from bench.harness import start_simulator
from bench.workload import RequestMaker, bench_config, support_examples
from llmrouter.core import eventloop
from llmrouter.core.logging import configure_logging
from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import load_config
from llmrouter.router.providers.pool import SIMULATOR_ENV
from llmrouter.runtime.gc_tuning import tune_gc
from llmrouter.schemas import classified_topic, requests_topic
from llmrouter.workers.handlers import ClassifierHandler, RouterHandler

__all__ = ["measure"]

TASK = "bench-task"
MAX_BYTES = 1_000_000


def _record(
    topic: str,
    offset: int,
    key: bytes | None,
    value: bytes,
    headers: tuple[tuple[str, bytes], ...] = (),
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=int(time.time() * 1000),
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value),
        headers=headers,
    )


def _rss_mib() -> float:
    """This process's resident memory now."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(
    sim_url: str, routing: str, records: int, concurrency: int, profile: Path | None
) -> dict[str, float]:
    """CPU µs per record of each handler (and both), over `records` records."""
    os.environ[SIMULATOR_ENV] = sim_url
    with tempfile.TemporaryDirectory() as tmp:
        path = bench_config(Path(tmp) / "config.yaml", TASK, max_concurrency=4096, routing=routing)
        config = load_config(path)
    engine = RoutingEngine(config)
    rss_start_mib = _rss_mib()
    router = RouterHandler(engine, max_message_bytes=MAX_BYTES)
    classifier = (
        ClassifierHandler(engine, max_message_bytes=MAX_BYTES) if routing == "complexity" else None
    )
    router.publish_unbound = classifier_unbound = lambda outputs: None
    if classifier is not None:
        classifier.publish_unbound = classifier_unbound
    make = RequestMaker(TASK, support_examples())
    spent = {"classifier": 0.0, "router": 0.0}
    results = 0

    async def one(i: int) -> None:
        nonlocal results
        key, value = make(i)
        record = _record(requests_topic(TASK), i, key, value)
        if classifier is not None:
            t = time.thread_time()
            outputs: list[Output] = await classifier(record)
            spent["classifier"] += time.thread_time() - t
            classified = outputs[0]
            assert classified.topic == classified_topic(TASK), classified.topic
            record = _record(
                classified.topic,
                i,
                classified.key,
                classified.value,
                tuple(classified.headers or ()),
            )
        outputs = await router(record)
        results += sum(1 for o in outputs if o.topic.startswith("llm.results."))

    await one(0)  # warm up: the SDK's first call, then connections
    await asyncio.gather(*(one(i) for i in range(1, 200)))
    results = 0
    remaining = records

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one(remaining)

    profiler = cProfile.Profile() if profile else None
    cpu = time.process_time()
    if profiler:
        profiler.enable()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    if profiler:
        profiler.disable()
    cpu = time.process_time() - cpu
    await engine.aclose()
    assert results == records, f"{results} results for {records} records"
    if profiler and profile:
        profiler.dump_stats(str(profile))
    figures = {
        "total": cpu / records * 1e6,
        "rss_start_mib": rss_start_mib,
        "rss_peak_mib": _peak_rss_mib(),
    }
    if classifier is not None:
        figures["classifier (thread time, approx.)"] = spent["classifier"] / records * 1e6
    return figures


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as logs:
        async with start_simulator(args.latency_ms, Path(logs)) as (_, sim_url):
            figures = await measure(
                sim_url, args.routing, args.records, args.concurrency, args.profile
            )
    for name, value in figures.items():
        unit = "MiB" if name.endswith("_mib") else "µs CPU per record"
        print(f"{args.routing}: {name}: {value:,.0f} {unit}", file=sys.stderr)
    if args.profile:
        stats = pstats.Stats(str(args.profile), stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.handler_cpu", description=__doc__)
    parser.add_argument("--routing", default="static", choices=("static", "complexity"))
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the simulator's latency")
    parser.add_argument(
        "--default-gc", action="store_true", help="keep CPython's collector thresholds"
    )
    args = parser.parse_args()
    configure_logging(os.environ.get("LLMROUTER_LOG_LEVEL", "info"))
    if not args.default_gc:
        tune_gc()  # as a worker process does (runtime/gc_tuning.py)
    with contextlib.suppress(KeyboardInterrupt):
        eventloop.run(_main(args))


if __name__ == "__main__":
    main()

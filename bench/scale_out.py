"""`python -m bench.scale_out [--rpm 600] [--rate 40] [--seconds 90]`: three router
worker processes share one model's `rpm` through the state store.

Offers `rate` requests/s for `seconds` to one task whose only model has `rpm`, served by
three `llmrouter worker router` processes (plus a classifier) sharing a redis-server;
samples the provider simulator's own call counter twice a second; waits until every
request is answered. Prints the most calls the provider saw in any 60 s window (the
limit holds when it is at most rpm + 5 %) and how many requests were answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.harness import (
    Child,
    RunNames,
    free_port,
    local_broker,
    start_simulator,
    start_workers,
    started,
    worker_env,
)
from llmrouter.kafka.admin import ensure_topics
from llmrouter.producers import RequestProducer
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import LLMResult, decode, dumps, results_topic
from llmrouter.schemas.topics import router_topics

WINDOW_S = 60.0


def _config(path: Path, task: str, rpm: int) -> Path:
    config = {
        "version": 1,
        "defaults": {"cache": {"enabled": False}, "timeout_s": 600},
        "models": {
            "cheap": {
                "provider": "anthropic",
                "model_id": "claude-3-haiku-20240307",
                "input_usd_per_1k": 0.00025,
                "output_usd_per_1k": 0.00125,
                "rpm": rpm,
            }
        },
        "tasks": {task: {"route": {"strategy": "static", "model": "cheap"}}},
    }
    path.write_bytes(dumps(config))
    return path


async def _calls(http: aiohttp.ClientSession, sim_url: str) -> int:
    async with http.get(f"{sim_url}/_sim/stats") as resp:
        return int((await resp.json())["requests"])


async def run(rpm: int, rate: float, seconds: float, keep_logs: Path | None = None) -> int:
    bootstrap, _ = await local_broker()
    names = RunNames.new()
    task = names.task("scale")
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        logs = keep_logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        config = _config(logs / "routing.json", task, rpm)
        await ensure_topics(
            bootstrap, router_topics(parse_config(config.read_text()).tasks, partitions=3)
        )
        async with contextlib.AsyncExitStack() as stack:
            port = free_port()
            redis = Child(
                "redis",
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    tmp,
                ],
                logs / "redis.log",
            )
            await stack.enter_async_context(started(redis))
            await redis.wait_for("Ready to accept connections", timeout_s=30)
            _, sim_url = await stack.enter_async_context(start_simulator(50, logs))
            env = worker_env(bootstrap, sim_url, task, names, config=config, partitions=3)
            env["LLMROUTER_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            await start_workers(stack, env, logs, routers=3, split=True)
            http = await stack.enter_async_context(aiohttp.ClientSession())
            samples: list[tuple[float, int]] = []
            answered: set[str] = set()
            attempts: list[int] = []
            copies: list[bool] = []
            total = int(rate * seconds)

            async def sample() -> None:
                while len(answered) < total:
                    samples.append((time.monotonic(), await _calls(http, sim_url)))
                    await asyncio.sleep(0.5)

            async def collect() -> None:
                from aiokafka import AIOKafkaConsumer

                consumer = AIOKafkaConsumer(
                    results_topic(task),
                    bootstrap_servers=bootstrap,
                    isolation_level="read_committed",
                    auto_offset_reset="earliest",
                )
                await consumer.start()
                try:
                    while len(answered) < total:
                        for records in (await consumer.getmany(timeout_ms=500)).values():
                            for r in records:
                                result = decode(r.value, LLMResult)
                                answered.add(result.request_id)
                                attempts.append(len(result.attempts))
                                copies.append(result.duplicate)
                finally:
                    await consumer.stop()

            sampler, collector = asyncio.create_task(sample()), asyncio.create_task(collect())
            async with RequestProducer.from_env(bootstrap) as producer:
                start = time.monotonic()
                sends = []
                for i in range(total):  # open loop: a slow acknowledgement delays no send
                    delay = start + i / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    sends.append(asyncio.create_task(producer.submit(task, f"question {i}")))
                await asyncio.gather(*sends)
            print(f"offered {total} requests in {time.monotonic() - start:.0f} s", flush=True)
            await asyncio.wait_for(collector, timeout=total / (rpm / WINDOW_S) + 300)
            await sampler
            async with http.get(f"{sim_url}/_sim/stats") as resp:
                print(
                    "simulator:",
                    (await resp.json())["totals"],
                    "attempts on results:",
                    sum(attempts),
                    "results:",
                    len(attempts),
                    "marked duplicate:",
                    sum(copies),
                )
    worst = max(
        later - earlier
        for t0, earlier in samples
        for t1, later in samples
        if 0 <= t1 - t0 <= WINDOW_S
    )
    print(
        f"answered {len(answered)}/{total}; most provider calls in any {WINDOW_S:.0f} s window: {worst} (rpm {rpm})"
    )
    return 0 if worst <= rpm * 1.05 and len(answered) == total else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--rate", type=float, default=40.0, help="requests offered per second")
    parser.add_argument("--seconds", type=float, default=90.0, help="seconds of offered load")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("bench.scale_out: needs redis-server", file=sys.stderr)
        return 2
    return asyncio.run(run(args.rpm, args.rate, args.seconds, args.logs))


if __name__ == "__main__":
    sys.exit(main())

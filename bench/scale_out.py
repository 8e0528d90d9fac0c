"""`python -m bench.scale_out [--rpm 600] [--queue-s 1] [--rate 40] [--seconds 90]`: three
router worker processes share one model's `rpm` through the state store.

Offers `rate` requests/s for `seconds` to one task whose model has `rpm` and `queue_s`,
with a fallback to another provider's model without limits, served by three
`llmrouter worker router` processes (plus a classifier) sharing a redis-server; samples
the provider simulator's own call counter for the limited model five times a second;
waits until every request is answered. Offered more than the quota, a call that gets no
slot within `queue_s` goes to the fallback, so the run takes about `seconds`, not the time
the quota alone would need to drain the load. Prints the most calls the provider saw for
the limited model in any 60 s window (the limit holds when it is at most rpm + 5 %), how
many requests were answered and by which model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
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
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.producers import RequestProducer
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import LLMResult, decode, dumps, results_topic
from llmrouter.schemas.topics import router_topics

WINDOW_S = 60.0
SAMPLE_S = 0.2
LIMITED_ID = "claude-3-haiku-20240307"


def _config(path: Path, task: str, rpm: int, queue_s: float) -> Path:
    config = {
        "version": 1,
        "defaults": {"cache": {"enabled": False}, "max_output_tokens": 50},
        "models": {
            "cheap": {
                "provider": "anthropic",
                "model_id": LIMITED_ID,
                "input_usd_per_1k": 0.00025,
                "output_usd_per_1k": 0.00125,
                "rpm": rpm,
                "queue_s": queue_s,
            },
            "mid": {
                "provider": "openai",
                "model_id": "gpt-3.5-turbo-0125",
                "input_usd_per_1k": 0.0005,
                "output_usd_per_1k": 0.0015,
            },
        },
        "tasks": {task: {"route": {"strategy": "static", "model": "cheap", "fallback": ["mid"]}}},
    }
    path.write_bytes(dumps(config))
    return path


async def _calls(http: aiohttp.ClientSession, sim_url: str) -> int:
    """The simulator's calls to the limited model."""
    async with http.get(f"{sim_url}/_sim/stats") as resp:
        models = (await resp.json())["models"]
    return int(sum(models.get(LIMITED_ID, {}).values()))


def most_in_any_window(samples: list[tuple[float, int]], window_s: float) -> int:
    """The largest rise of a sampled counter over any span of at most `window_s`."""
    worst, start = 0, 0
    for t1, later in samples:
        while samples[start][0] < t1 - window_s:
            start += 1
        worst = max(worst, later - samples[start][1])
    return worst


async def run(
    rpm: int, queue_s: float, rate: float, seconds: float, keep_logs: Path | None = None
) -> int:
    bootstrap, _ = await local_broker()
    names = RunNames.new()
    task = names.task("scale")
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        logs = keep_logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        config = _config(logs / "routing.json", task, rpm, queue_s)
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
            models: Counter[str] = Counter()
            failed: list[str] = []
            total = int(rate * seconds)

            async def sample() -> None:
                while len(answered) < total:
                    samples.append((time.monotonic(), await _calls(http, sim_url)))
                    await asyncio.sleep(SAMPLE_S)
                samples.append((time.monotonic(), await _calls(http, sim_url)))

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
                                models[result.model or "none"] += 1
                                if result.status.value != "ok":
                                    failed.append(result.error or "")
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
            await asyncio.wait_for(collector, timeout=300)
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
                    "answered by:",
                    dict(models),
                    "failed:",
                    len(failed),
                    failed[:3],
                )
    worst = most_in_any_window(samples, WINDOW_S)
    print(
        f"answered {len(answered)}/{total}; most calls to the limited model in any"
        f" {WINDOW_S:.0f} s window: {worst} (rpm {rpm}, queue_s {queue_s:g})"
    )
    ok = worst <= rpm * 1.05 and len(answered) == len(attempts) == total and not failed
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument(
        "--queue-s",
        type=float,
        default=1.0,
        help="the limited model's queue_s: past it a call goes to the fallback",
    )
    parser.add_argument("--rate", type=float, default=40.0, help="requests offered per second")
    parser.add_argument("--seconds", type=float, default=90.0, help="seconds of offered load")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("bench.scale_out: needs redis-server", file=sys.stderr)
        return 2
    return asyncio.run(run(args.rpm, args.queue_s, args.rate, args.seconds, args.logs))


if __name__ == "__main__":
    sys.exit(main())

"""`llmrouter demo`: Kafka, simulator, workers and a sample workload end to end, then the
table of what went where, what it cost, and what it saved. With a model with `batch_api`
the batch worker runs too, at the demo's pace (demo_batch.py), and the summary shows the
share answered through batch jobs and what that saved against realtime prices."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llmrouter.cli.demo_batch import (
    DEMO_BATCH_POLL_S,
    DEMO_BATCH_PROCESSING_S,
    DEMO_BATCH_WAIT_S,
    batch_savings,
    demo_batch_config,
)
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.localkafka import LocalKafka, broker_ready
from llmrouter.operations.report_batch import batch_table
from llmrouter.operations.summary import Summary, render_summary, summarise
from llmrouter.producers.client import RequestProducer
from llmrouter.producers.workload import sample_workload
from llmrouter.router import RouterConfig, load_config
from llmrouter.schemas import LLMResult
from llmrouter.schemas.money import format_usd
from llmrouter.workers.kinds import WorkerKind
from llmrouter.workers.launch import WorkerSettings, run_workers

__all__ = ["DEMO_GROUP_PREFIX", "demo_settings", "run_demo"]

#: the consumer-group prefix of the demo's workers when $LLMROUTER_GROUP_PREFIX is unset
DEMO_GROUP_PREFIX = "demo-"


async def run_demo(
    config_path: Path | None, requests: int, latency_scale: float, console: Console
) -> int:
    config = demo_batch_config(load_config(config_path))
    batching = any(spec.batch_api is not None for spec in config.models.values())
    kinds: list[WorkerKind] = ["classifier", "router"]
    if batching:
        kinds.append("batch")
    bootstrap = await _kafka(console)
    async with _simulator(latency_scale, console) as sim_url:
        os.environ["LLMROUTER_SIMULATOR_URL"] = sim_url
        settings = demo_settings(bootstrap)
        console.print(f"[bold]groups[/] {settings.group_prefix}llmrouter-{' / -'.join(kinds)}")
        stop, ready = asyncio.Event(), asyncio.Event()
        workers = asyncio.create_task(run_workers(kinds, config, settings, stop=stop, ready=ready))
        try:
            await _wait_ready(ready, workers)
            console.print(f"[bold]workers[/] {', '.join(kinds)} running in this process")
            if batching:
                console.print(
                    f"[bold]batch jobs[/] submitted after {DEMO_BATCH_WAIT_S:g} s, polled every "
                    f"{DEMO_BATCH_POLL_S:g} s (the config's timings shortened for the demo)"
                )
            results, elapsed_s = await _workload(config, bootstrap, requests, console)
        finally:
            stop.set()
            await workers
    summary = summarise(results, config)
    console.print()
    console.print(render_summary(summary, title=f"{len(results)} requests in {elapsed_s:.1f} s"))
    console.print(
        f"total cost {format_usd(summary.total_cost_usd)} against "
        f"{format_usd(summary.baseline_cost_usd)} "
        f"if every request had gone to {summary.baseline_label}: "
        f"[bold green]{summary.savings_share:.1%} saved[/]"
        f" ({format_usd(summary.savings_usd)} on this run)"
    )
    console.print(
        f"prompt caching saved {format_usd(summary.caching_saved_usd)} of the cost "
        f"({_caching_share(summary)} of what it would have been uncached): the cache reads "
        "and writes at their cache prices instead of the plain input price"
    )
    if batching:
        savings = batch_savings(results, config)
        if savings.rows:
            console.print(batch_table(list(savings.rows), format_usd))
        console.print(savings.line())
    console.print(
        "[dim]Answers come from the provider simulator (`llmrouter sim`), not real models; "
        "costs are the catalog prices applied to the simulator's token classes.[/]"
    )
    return 0


def _caching_share(summary: Summary) -> str:
    uncached = summary.total_cost_usd + summary.caching_saved_usd
    return f"{summary.caching_saved_usd / uncached:.1%}" if uncached else "0%"


def demo_settings(bootstrap: str) -> WorkerSettings:
    """The demo's workers: `LLMROUTER_*` settings honoured, and consumer groups of their own
    unless $LLMROUTER_GROUP_PREFIX names them, so a demo never joins (and takes partitions
    from) a live deployment's groups."""
    return WorkerSettings.from_env(
        KafkaSettings.from_env(bootstrap),
        instance_id=f"demo-{os.getpid()}",
        group_prefix=os.environ.get("LLMROUTER_GROUP_PREFIX") or DEMO_GROUP_PREFIX,
        metrics_port=-1,
    )


async def _kafka(console: Console) -> str:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given and await broker_ready(given):
        console.print(f"[bold]kafka[/] using {given}")
        return given
    local = LocalKafka()
    if not local.status().running:
        console.print(
            "[bold]kafka[/] starting a local broker (the first run assembles it with Maven)…"
        )
    bootstrap = await asyncio.to_thread(local.start)
    console.print(f"[bold]kafka[/] running at {bootstrap}")
    return bootstrap


@contextlib.asynccontextmanager
async def _simulator(latency_scale: float, console: Console) -> AsyncIterator[str]:
    given = os.environ.get("LLMROUTER_SIMULATOR_URL")
    if given:
        console.print(f"[bold]simulator[/] using {given}")
        yield given
        return
    from llmrouter.simulator import SimConfig, create_app, running
    from llmrouter.simulator.batches import store_of

    app = create_app(SimConfig(latency_scale=latency_scale))
    batches = store_of(app)  # a provider takes hours over a batch job; the demo, a second
    batches.knobs = batches.knobs.model_copy(update={"processing_s": DEMO_BATCH_PROCESSING_S})
    async with running(app=app) as url:
        console.print(f"[bold]simulator[/] provider simulator at {url} (latency ×{latency_scale})")
        yield url


async def _wait_ready(ready: asyncio.Event, workers: asyncio.Task[None]) -> None:
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait(
        {waiter, workers}, timeout=120, return_when=asyncio.FIRST_COMPLETED
    )
    if workers in done:
        waiter.cancel()
        workers.result()
    if waiter not in done:
        raise TimeoutError("workers did not start within 120 s")


async def _workload(
    config: RouterConfig, bootstrap: str, count: int, console: Console
) -> tuple[list[LLMResult], float]:
    items = [i for i in sample_workload(count) if i.task in config.tasks]
    started = time.monotonic()
    async with RequestProducer.from_env(bootstrap) as producer:
        waiters = {task: await producer.waiter(task) for task in {i.task for i in items}}
        futures = []
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            published = progress.add_task("published", total=len(items))
            answered = progress.add_task("answered", total=len(items))
            for item in items:
                request = producer.build(
                    item.task,
                    item.input,
                    context=item.context,
                    user_tier=item.user_tier,
                    priority=item.priority,
                    metadata=item.metadata,
                )
                future = waiters[item.task].expect(request.request_id)
                future.add_done_callback(lambda _f: progress.advance(answered))
                futures.append(future)
                await producer.send(request)
                progress.advance(published)
            results = await asyncio.wait_for(asyncio.gather(*futures), timeout=300)
    return list(results), time.monotonic() - started

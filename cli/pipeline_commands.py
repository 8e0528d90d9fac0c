"""Commands that run the Kafka pipeline: workers, `run`, `produce`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from llmrouter.cli.commands import (
    ConfigOption,
    ContextOption,
    PriorityOption,
    TierOption,
    parse_context,
)
from llmrouter.core import eventloop as event_loop
from llmrouter.core.errors import ConfigError
from llmrouter.core.logging import configure_logging
from llmrouter.workers.kinds import WorkerKind

BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap-servers",
        help="Kafka servers (else $KAFKA_BOOTSTRAP_SERVERS, else localhost:9092).",
    ),
]
InstanceOption = Annotated[
    str | None,
    typer.Option(
        "--instance-id",
        help="Stable id of this worker across restarts (else $LLMROUTER_INSTANCE_ID, else host-pid).",
    ),
]
InFlightOption = Annotated[
    int | None, typer.Option(help="Requests in flight at once per worker (default 4096).")
]
GraceOption = Annotated[
    float | None, typer.Option(help="Seconds to drain in-flight work on SIGTERM (default 30).")
]
LogOption = Annotated[str, typer.Option(help="Log level: debug, info, warning.")]


def worker(
    kind: Annotated[WorkerKind, typer.Argument(help="Which worker.")],
    config: ConfigOption = None,
    bootstrap_servers: BootstrapOption = None,
    instance_id: InstanceOption = None,
    max_in_flight: InFlightOption = None,
    grace_s: GraceOption = None,
    log_level: LogOption = "info",
) -> None:
    """Run one worker process: `classifier` (requests → classified), `router`
    (classified → results and cost events) or `quality` (shadow traffic, the online judge,
    live quality: off the hot path). SIGTERM drains in-flight work and commits."""
    if kind == "quality":  # off the hot path: the live workers get the CPU first
        from llmrouter.workers.quality.priority import lower_priority

        configure_logging(log_level)  # before its first line: loggers keep their config
        lower_priority()
    _run([kind], config, bootstrap_servers, instance_id, max_in_flight, grace_s, log_level)


def run(
    config: ConfigOption = None,
    bootstrap_servers: BootstrapOption = None,
    instance_id: InstanceOption = None,
    max_in_flight: InFlightOption = None,
    grace_s: GraceOption = None,
    log_level: LogOption = "info",
) -> None:
    """Run every worker in this one process (the default on one machine)."""
    _run(
        ["classifier", "router"],
        config,
        bootstrap_servers,
        instance_id,
        max_in_flight,
        grace_s,
        log_level,
    )


def _run(
    kinds: list[WorkerKind],
    config_path: Path | None,
    bootstrap: str | None,
    instance_id: str | None,
    max_in_flight: int | None,
    grace_s: float | None,
    log_level: str,
) -> None:
    from llmrouter.kafkaio.settings import KafkaSettings
    from llmrouter.router import load_config
    from llmrouter.router.config_loader import resolve_config_path
    from llmrouter.runtime.gc_tuning import tune_gc
    from llmrouter.workers.launch import WorkerSettings, run_workers

    configure_logging(log_level)
    config = load_config(config_path)
    settings = WorkerSettings.from_env(
        KafkaSettings.from_env(bootstrap),
        instance_id=instance_id,
        max_in_flight=max_in_flight,
        grace_s=grace_s,
    )
    tune_gc()  # records are short-lived: the collector's defaults cost ~30% of the CPU
    # uvloop when installed ($LLMROUTER_UVLOOP=0 turns it off): a cheaper loop for workers.
    source = resolve_config_path(config_path)  # SIGHUP reloads it
    event_loop.run(run_workers(kinds, config, settings, config_path=source))


def produce(
    task: Annotated[str, typer.Option(help="Task name, e.g. moderation.")],
    input: Annotated[str | None, typer.Option("--input", help="One request's text.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="JSON Lines: one object per line with at least `input` (any request field).",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the results, print them, then a summary.")
    ] = False,
    timeout_s: Annotated[float, typer.Option(min=0.0, help="How long --wait waits.")] = 120.0,
    tier: TierOption = None,
    priority: PriorityOption = None,
    context: ContextOption = None,
    bootstrap_servers: BootstrapOption = None,
) -> None:
    """Publish requests (one text, or a JSON Lines file) and optionally wait for their results.

    Request ids (or, with --wait, results as JSON lines) go to stdout; progress and the
    summary (ok/failed, models, cost) to stderr. --tier, --priority and --context apply
    to every request; a file line's own fields win."""
    from llmrouter.cli.produce import ProduceJob, produce_requests

    if (input is None) == (file is None):
        raise ConfigError("give exactly one of --input or --file")
    configure_logging("warning")
    job = ProduceJob(task, input, file, tier, priority, parse_context(context))
    code = asyncio.run(
        produce_requests(job, wait=wait, timeout_s=timeout_s, bootstrap=bootstrap_servers)
    )
    sys.stdout.flush()
    raise typer.Exit(code)


def demo(
    config: ConfigOption = None,
    requests: Annotated[int, typer.Option(help="How many requests the sample workload has.")] = 400,
    latency_scale: Annotated[
        float, typer.Option(help="Scale of the simulated provider latencies (1 = realistic).")
    ] = 0.5,
) -> None:
    """Kafka, simulator, workers and a sample workload end to end, then the report."""
    from rich.console import Console

    from llmrouter.cli.demo import run_demo

    configure_logging("warning")
    console = Console() if sys.stdout.isatty() else Console(width=130)
    raise typer.Exit(asyncio.run(run_demo(config, requests, latency_scale, console)))

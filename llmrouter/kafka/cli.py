"""`llmrouter kafka start|stop|status`: the local development broker.

Progress goes to stderr; `start` prints the bootstrap servers as the last line of stdout,
so scripts can do `export KAFKA_BOOTSTRAP_SERVERS=$(llmrouter kafka start)`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from llmrouter.kafka.local import LocalKafka, kafka_version
from llmrouter.kafka.topics import DEFAULT_TASKS, ensure_topics, spec_topics

app = typer.Typer(
    help=(
        "A local single-node Apache Kafka (KRaft) for development, tests and the demo. "
        "Needs Java 17+ (and Maven once, to download the jars). State lives in "
        "$LLMROUTER_KAFKA_HOME (default ~/.local/state/llmrouter/kafka); ports come from "
        "$LLMROUTER_KAFKA_PORT (9092) and $LLMROUTER_KAFKA_CONTROLLER_PORT (9093)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@app.command()
def start(
    partitions: Annotated[
        int,
        typer.Option(min=1, help="Partitions for each topic created (existing ones are kept)."),
    ] = 3,
    tasks: Annotated[
        str,
        typer.Option(help="Comma-separated tasks to create the SPEC's llm.* topics for."),
    ] = ",".join(DEFAULT_TASKS),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 120,
) -> None:
    """Start the broker unless it runs, create the topics, print the bootstrap servers."""
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    try:
        topics = spec_topics(names, partitions)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tasks") from None
    kafka = LocalKafka(progress=_progress)
    bootstrap = kafka.start(timeout_s=timeout)
    created = asyncio.run(ensure_topics(bootstrap, topics))
    if created:
        _progress(f"created {len(created)} topics")
    _progress(f"Kafka {kafka_version()} ready; state in {kafka.state_dir}")
    print(bootstrap)


@app.command()
def stop(
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for a clean shutdown before SIGKILL.")
    ] = 60,
) -> None:
    """Stop the broker (a clean shutdown; data is kept for the next start)."""
    kafka = LocalKafka()
    pid = kafka.status().pid
    if kafka.stop(timeout_s=timeout):
        print(f"stopped (pid {pid}); state kept in {kafka.state_dir}")
    else:
        print(f"not running (state in {kafka.state_dir})")


@app.command()
def status() -> None:
    """Say whether the broker runs (exit 0) or not (exit 1)."""
    state = LocalKafka().status()
    if state.running:
        print(f"running (pid {state.pid}) at {state.bootstrap}, state in {state.state_dir}")
    else:
        print(f"not running (state in {state.state_dir})")
        raise typer.Exit(1)

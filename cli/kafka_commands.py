"""`llmrouter kafka start|stop|status`: the local development broker.

Progress goes to stderr; `start` prints the bootstrap servers as the last line of stdout,
so scripts can do `export KAFKA_BOOTSTRAP_SERVERS=$(llmrouter kafka start)`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.localkafka import LocalKafka, kafka_version
from llmrouter.schemas.topics import router_topics

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


@app.callback()
def _quiet_client_logs() -> None:
    # Without logging configured, Python prints aiokafka's connection warnings on stderr;
    # our errors already say what failed, in one line.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


PartitionsOption = Annotated[
    int, typer.Option(min=1, help="Partitions for each topic created (existing ones are kept).")
]
TasksOption = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated tasks to create the router's llm.* topics for "
        "(default: the tasks of the shipped example config).",
        show_default=False,
    ),
]


def _task_names(tasks: str | None) -> list[str]:
    if tasks is None:  # the example config is the one place the shipped tasks are written
        from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config

        return list(load_config(EXAMPLE_CONFIG).tasks)
    return [t.strip() for t in tasks.split(",") if t.strip()]


def _create_topics(
    bootstrap: str, tasks: str | None, partitions: int, *, secure: bool = False
) -> None:
    names = _task_names(tasks)
    try:
        topics = router_topics(names, partitions)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tasks") from None
    client_kwargs = None
    if secure:  # any cluster: the KAFKA_SECURITY_* / SASL / SSL settings of the environment
        from llmrouter.kafkaio.settings import KafkaSettings

        client_kwargs = KafkaSettings.from_env(bootstrap).client_kwargs()
        del client_kwargs["bootstrap_servers"]
    created = asyncio.run(ensure_topics(bootstrap, topics, client_kwargs=client_kwargs))
    _progress(f"created {len(created)} of {len(topics)} topics (the others existed)")


@app.command()
def start(
    partitions: PartitionsOption = 3,
    tasks: TasksOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 120,
) -> None:
    """Start the broker unless it runs, create the topics, print the bootstrap servers."""
    kafka = LocalKafka(progress=_progress)
    bootstrap = kafka.start(timeout_s=timeout)
    _create_topics(bootstrap, tasks, partitions)
    _progress(f"Kafka {kafka_version()} ready; state in {kafka.state_dir}")
    print(bootstrap)


@app.command()
def topics(
    bootstrap_servers: Annotated[
        str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Any Kafka cluster.")
    ] = "localhost:9092",
    partitions: PartitionsOption = 3,
    tasks: TasksOption = None,
) -> None:
    """Create the router's topics on any cluster (e.g. `docker compose up kafka`), with the
    Kafka security settings of the environment (KAFKA_SECURITY_PROTOCOL, SASL, SSL)."""
    _create_topics(bootstrap_servers, tasks, partitions, secure=True)


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

"""Commands that drive `router/`, `schemas/` and the simulator directly (no Kafka)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from llmrouter.cli.errors import validation_message
from llmrouter.core.errors import ConfigError
from llmrouter.core.logging import configure_logging
from llmrouter.schemas.enums import Priority, UserTier

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Routing YAML (else $LLMROUTER_CONFIG, else the shipped example)."
    ),
]


TierOption = Annotated[UserTier | None, typer.Option(help="User tier of the request.")]
PriorityOption = Annotated[Priority | None, typer.Option(help="realtime (the default) or batch.")]
ContextOption = Annotated[
    list[str] | None,
    typer.Option(help="Template variable KEY=VALUE for the prompt (repeatable)."),
]


def parse_context(items: list[str] | None) -> dict[str, str]:
    """`--context K=V` options as a mapping; a later K wins."""
    ctx: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--context takes KEY=VALUE, got {item!r}")
        ctx[key.strip()] = value
    return ctx


def route(
    task: Annotated[str, typer.Option(help="Task name, e.g. customer-support-qa.")],
    input: Annotated[str, typer.Option("--input", help="The request text.")],
    tier: TierOption = None,
    priority: PriorityOption = None,
    context: ContextOption = None,
    config: ConfigOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each call.")] = False,
) -> None:
    """Route one request through router/ without Kafka and print the result as JSON."""
    from llmrouter.router import RoutingEngine, load_config
    from llmrouter.schemas import LLMRequest, encode, utc_now

    configure_logging("info" if verbose else "warning")
    cfg = load_config(config)
    ctx = parse_context(context)
    try:
        request = LLMRequest.model_validate(
            {
                "request_id": f"cli-{os.getpid()}-{utc_now().timestamp():.0f}",
                "task": task,
                "input": input,
                "context": ctx,
                "user_tier": tier,
                "priority": priority,
                "created_at": utc_now(),
            }
        )
    except ValidationError as exc:
        raise ConfigError(f"invalid request: {validation_message(exc)}") from None

    async def run() -> int:
        router = RoutingEngine(cfg)
        try:
            routed = await router.route(request)
        finally:
            await router.aclose()
        sys.stdout.write(encode(routed.result).decode() + "\n")
        return 0 if routed.failure is None else 1

    raise typer.Exit(asyncio.run(run()))


def sim(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8700,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    config: Annotated[Path | None, typer.Option("--config", help="Simulator YAML.")] = None,
    latency_ms: Annotated[
        float | None, typer.Option(help="Fixed latency for every model (0: none).")
    ] = None,
) -> None:
    """The provider simulator: OpenAI Chat Completions and Anthropic Messages over HTTP.

    A simulator, not a model: answers are deterministic text shaped by per-model quality
    knobs, for offline demos, tests and load tests."""
    from llmrouter import simulator

    sim_config = simulator.SimConfig.from_yaml(config) if config else simulator.SimConfig()
    if latency_ms is not None:
        sim_config = sim_config.model_copy(update={"latency_ms": latency_ms})
    simulator.serve(host=host, port=port, config=sim_config)


def schemas(
    out: Annotated[Path, typer.Option(help="Folder for the JSON Schema files.")] = Path(
        "docs/schemas"
    ),
) -> None:
    """Write the JSON Schema of every message of the wire contract."""
    from llmrouter.schemas.jsonschema import write_json_schemas

    for path in write_json_schemas(out):
        typer.echo(str(path))


def asyncapi(
    out: Annotated[Path, typer.Option(help="Where to write the AsyncAPI YAML.")] = Path(
        "docs/asyncapi.yaml"
    ),
) -> None:
    """Write the AsyncAPI 3.0 document of every topic, message and consumer group."""
    from llmrouter.workers.declaration import render_asyncapi

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_asyncapi(), encoding="utf-8")
    typer.echo(str(out))

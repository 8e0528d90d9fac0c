"""The `llmrouter` command line. Each command group lives beside the code it drives."""

from __future__ import annotations

import sys

import typer

from llmrouter.core.errors import LLMRouterError

app = typer.Typer(
    name="llmrouter",
    help="Kafka-native multi-model LLM router.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from llmrouter.cli import commands, eval_commands, ops_commands, pipeline_commands
    from llmrouter.cli.kafka_commands import app as kafka_app

    app.add_typer(kafka_app, name="kafka", help="A local single-node Kafka for development.")
    app.command()(commands.route)
    app.command()(commands.sim)
    app.command()(commands.schemas)
    app.command()(commands.asyncapi)
    app.command()(pipeline_commands.worker)
    app.command()(pipeline_commands.run)
    app.command()(pipeline_commands.produce)
    app.command()(pipeline_commands.demo)
    app.command("eval")(eval_commands.eval_)
    app.command("compare")(eval_commands.compare)
    app.command()(ops_commands.replay)
    app.command()(ops_commands.report)
    app.command("export-finetune")(ops_commands.export_finetune)


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and a non-zero exit."""
    _register()
    try:
        app()
    except LLMRouterError as exc:
        print(f"llmrouter: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("llmrouter: interrupted", file=sys.stderr)
        sys.exit(130)

"""The `llmrouter` command line. Every group of commands is a module of this package
(`kafka_commands`, `config_commands`, `commands`, `pipeline_commands`, `eval_commands`,
`learn_commands`, `ops_commands`, `money_commands`) that drives the packages below it; `errors` turns a user
mistake into one line."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from llmrouter.core.optional import exit_for_missing

try:
    import typer

    importlib.import_module("rich")  # every command prints through it
except ModuleNotFoundError as exc:  # the client-only install: one line naming the extra
    exit_for_missing(exc)

from llmrouter.cli.errors import USAGE_EXIT, click_errors, user_error

app = typer.Typer(
    name="llmrouter",
    help="Kafka-native multi-model LLM router.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version() -> str:
    try:
        return version("llmrouter")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"llmrouter {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Kafka-native multi-model LLM router."""


def _register() -> None:
    from llmrouter.cli import (
        commands,
        config_commands,
        eval_commands,
        feedback_command,
        learn_commands,
        money_commands,
        ops_commands,
        pipeline_commands,
    )
    from llmrouter.cli.kafka_commands import app as kafka_app

    app.add_typer(kafka_app, name="kafka", help="A local single-node Kafka for development.")
    app.add_typer(config_commands.app, name="config", help="Validate routing configs.")
    app.add_typer(learn_commands.app, name="learn", help="Routers learned from outcomes.")
    app.command()(commands.route)
    app.command()(commands.sim)
    app.command()(commands.schemas)
    app.command()(commands.asyncapi)
    app.command()(pipeline_commands.worker)
    app.command()(pipeline_commands.run)
    app.command()(pipeline_commands.produce)
    app.command()(feedback_command.feedback)
    app.command()(pipeline_commands.demo)
    app.command("eval")(eval_commands.eval_)
    app.command("compare")(eval_commands.compare)
    app.command()(ops_commands.replay)
    app.command()(ops_commands.report)
    app.command("export-finetune")(ops_commands.export_finetune)
    app.command()(money_commands.prices)
    app.command()(money_commands.reconcile)


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line and return its exit status; user mistakes become one line on
    stderr (click runs without its standalone mode so that we format its errors too)."""
    if not app.registered_commands:
        _register()
    try:
        code = app(
            args=list(argv) if argv is not None else None,
            prog_name="llmrouter",
            standalone_mode=False,
        )
    except click_errors.NoArgsIsHelpError as exc:
        text = exc.ctx.get_help()  # typer's rich help prints itself and returns ""
        if text:
            print(text, file=sys.stderr)
        return USAGE_EXIT
    except (typer.Abort, KeyboardInterrupt):
        print("llmrouter: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        found = user_error(exc)
        if found is None:
            raise
        message, status = found
        print(f"llmrouter: error: {message}", file=sys.stderr)
        return status
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console entry point."""
    sys.stdout.flush()
    sys.exit(run())

"""`llmrouter config check`: everything a worker checks at start-up, without Kafka or a
single request — the YAML and its references, every prompt template, every model's prices,
and the API key of every model a task can reach — then a summary of tasks, routes and
models with where each model's prices come from.

A config repository's CI usually has no provider keys: missing keys are listed with the
models that need them and fail the check only with `--require-keys` (a worker's start-up
always refuses them)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from llmrouter.cli.commands import ConfigOption
from llmrouter.core.errors import ConfigError
from llmrouter.router import RouterConfig, load_config
from llmrouter.router.config import (
    AdaptiveRoute,
    CascadeRoute,
    ComplexityRoute,
    LearnedRoute,
    Route,
    StaticRoute,
)
from llmrouter.router.config_loader import resolve_config_path
from llmrouter.router.expiry import max_age_s
from llmrouter.router.preflight import missing_api_keys, reachable_models
from llmrouter.router.pricing import price_table
from llmrouter.router.providers.pool import SIMULATOR_ENV
from llmrouter.schemas import Priority

__all__ = ["app", "check", "summary_lines"]

app = typer.Typer(help="Validate routing configs.", no_args_is_help=True, add_completion=False)


RequireKeysOption = Annotated[
    bool,
    typer.Option(
        "--require-keys",
        help="Fail when a reachable model has no API key (without it, missing keys are "
        "listed: a config repository's CI has none).",
    ),
]


@app.command()
def check(config: ConfigOption = None, require_keys: RequireKeysOption = False) -> None:
    """Check a routing config as a worker does at start-up (templates, references, prices,
    API keys of reachable models) and print its tasks, routes and models."""
    path = resolve_config_path(config)
    cfg = load_config(path)
    simulator = os.environ.get(SIMULATOR_ENV)
    missing = [] if simulator else asyncio.run(missing_api_keys(cfg))
    if missing and require_keys:
        first = missing[0]
        others = f" (and {len(missing) - 1} more model(s))" if len(missing) > 1 else ""
        raise ConfigError(f"{first}{others}", key=f"models.{first.model}")
    typer.echo(f"{path}: ok")
    for line in summary_lines(cfg, simulator=simulator):
        typer.echo(line)
    if missing:
        typer.echo(f"missing API keys ({len(missing)}; --require-keys fails on them):")
        for key in missing:
            typer.echo(f"  {key}")


def summary_lines(config: RouterConfig, *, simulator: str | None = None) -> list[str]:
    lines = [f"tasks ({len(config.tasks)}):"]
    for name, task in config.tasks.items():
        ages = f"max_age_s {max_age_s(task, Priority.REALTIME):g}"
        if task.max_age_s is None:
            ages += f" (batch {max_age_s(task, Priority.BATCH):g})"
        lines.append(f"  {name}: {_describe(task.route)}; {ages}")
        for tier, route in task.tiers.items():
            lines.append(f"    tier {tier.value}: {_describe(route)}")
        if task.batch is not None:
            lines.append(f"    batch: {_describe(task.batch)}")
        if task.budget is not None:
            lines.append(
                f"    over ${task.budget.daily_usd}/day: {_describe(task.budget.downgrade_to)}"
            )
    reached = reachable_models(config).models
    lines.append(f"models ({len(config.models)}, {len(reached)} reachable):")
    for name, spec in config.models.items():
        key = "simulator" if simulator else _key_source(spec.api_key_env, spec.api_key_file)
        used = "" if name in reached else " (not used by any route)"
        prices = price_table(spec).source
        lines.append(
            f"  {name}: {spec.provider.value} {spec.model_id}, key {key}, prices {prices}{used}"
        )
    if simulator:
        lines.append(f"simulator: every model is served by {simulator}")
    return lines


def _describe(route: Route) -> str:
    if isinstance(route, StaticRoute):
        text = f"static {route.model}"
    elif isinstance(route, ComplexityRoute):
        levels = ", ".join(f"{level.value}={model}" for level, model in route.levels.items())
        text = f"complexity by {route.classifier} ({levels})"
    elif isinstance(route, LearnedRoute):
        text = f"learned {route.router} ({', '.join(route.models.values())})"
    elif isinstance(route, AdaptiveRoute):
        text = f"adaptive ({', '.join(route.models)})"
    else:
        assert isinstance(route, CascadeRoute)
        text = "cascade " + " > ".join(step.model for step in route.steps)
    if route.fallback:
        text += f", fallback {', '.join(route.fallback)}"
    return text


def _key_source(env: str | None, file: object) -> str:
    if file is not None:
        return f"from file {file}"
    if env:
        return f"${env} ({'set' if os.environ.get(env) else 'unset'})"
    return "provider default"

"""`llmrouter config check`: everything a worker checks at start-up, without Kafka or a
single request — the YAML and its references, every prompt template, and the API key of
every model a task can reach — then a summary of tasks, routes and models."""

from __future__ import annotations

import asyncio
import os

import typer

from llmrouter.cli.commands import ConfigOption
from llmrouter.router import RouterConfig, load_config
from llmrouter.router.config import CascadeRoute, ComplexityRoute, LearnedRoute, Route, StaticRoute
from llmrouter.router.config_loader import resolve_config_path
from llmrouter.router.expiry import max_age_s
from llmrouter.router.preflight import check_api_keys, reachable_models
from llmrouter.router.providers.pool import SIMULATOR_ENV
from llmrouter.schemas import Priority

__all__ = ["app", "check", "summary_lines"]

app = typer.Typer(help="Validate routing configs.", no_args_is_help=True, add_completion=False)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Check a routing config as a worker does at start-up (templates, references, API keys
    of reachable models) and print its tasks, routes and models."""
    path = resolve_config_path(config)
    cfg = load_config(path)
    simulator = os.environ.get(SIMULATOR_ENV)
    if not simulator:
        asyncio.run(check_api_keys(cfg))
    typer.echo(f"{path}: ok")
    for line in summary_lines(cfg, simulator=simulator):
        typer.echo(line)


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
        lines.append(f"  {name}: {spec.provider.value} {spec.model_id}, key {key}{used}")
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

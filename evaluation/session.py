"""One evaluation from loaded config to report: dataset, candidates, endpoint, judge, run.

Endpoint: `LLMROUTER_SIMULATOR_URL` when set; else the real providers when any model
involved has its API key (or needs none: an openai-compatible server without a key
setting); else a provider simulator started by `start_simulator` (the command line passes
one that runs it in process), announced on stderr, so that `llmrouter eval` works offline
out of the box.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from llmrouter.core.errors import ConfigError
from llmrouter.evaluation.candidates import Candidate, resolve_candidate, route_candidate
from llmrouter.evaluation.dataset import Kind, default_dataset, load_dataset
from llmrouter.evaluation.judge import RouterJudge
from llmrouter.evaluation.report import Report, build_report
from llmrouter.evaluation.runner import rich_progress, run_eval
from llmrouter.router.config import (
    AdaptiveRoute,
    CascadeRoute,
    LearnedRoute,
    LLMClassifierSpec,
    ModelSpec,
    Provider,
    RouterConfig,
    StaticRoute,
)
from llmrouter.router.providers.pool import SIMULATOR_ENV
from llmrouter.router.secrets import read_api_key

__all__ = ["EvalRequest", "SimulatorStarter", "evaluate", "has_credentials", "provider_endpoint"]

#: Starts a provider simulator for the length of a `with` block and gives its URL.
SimulatorStarter = Callable[[], AbstractAsyncContextManager[str]]

_KEY_ENV = {Provider.OPENAI: "OPENAI_API_KEY", Provider.ANTHROPIC: "ANTHROPIC_API_KEY"}


@dataclass(frozen=True)
class EvalRequest:
    task: str
    models: Sequence[str]
    route: bool = False
    dataset: Path | None = None
    concurrency: int = 16
    judge: str | None = None
    limit: int | None = None


def has_credentials(spec: ModelSpec) -> bool:
    """Whether calling this model for real can work: a key is there, or none is needed."""
    env = spec.api_key_env or _KEY_ENV.get(spec.provider)
    if env is None and spec.api_key_file is None:
        return True  # openai-compatible with no key setting: a self-hosted server
    return bool(read_api_key(env, spec.api_key_file))


@asynccontextmanager
async def provider_endpoint(
    config: RouterConfig,
    models: Sequence[str],
    stderr: Console,
    start_simulator: SimulatorStarter,
) -> AsyncIterator[str | None]:
    """The simulator URL to use, or None for the real providers (see the module docstring)."""
    given = os.environ.get(SIMULATOR_ENV)
    if given:
        stderr.print(f"provider simulator at {given} ({SIMULATOR_ENV})", soft_wrap=True)
        yield given
        return
    if any(has_credentials(config.models[m]) for m in models):
        yield None
        return
    async with start_simulator() as url:
        stderr.print(
            f"no API keys and no {SIMULATOR_ENV}: started a provider simulator at {url} "
            "(answers are simulated, not real models)",
            soft_wrap=True,
        )
        yield url


def resolve_candidates(config: RouterConfig, request: EvalRequest) -> list[Candidate]:
    candidates = [resolve_candidate(config, spec) for spec in request.models]
    if request.route:
        candidates.append(route_candidate())
    labels = [c.label for c in candidates]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"model given twice: {', '.join(duplicates)}")
    if not candidates:
        raise ConfigError("nothing to evaluate: give --models and/or --route")
    return candidates


def _models_called(config: RouterConfig, task: str, candidates: Sequence[Candidate]) -> list[str]:
    """Catalog models the run may call; for the route, its models, fallbacks and classifier."""
    called = [c.base_model for c in candidates if c.base_model is not None]
    if any(c.is_route for c in candidates):
        route = config.tasks[task].route
        called += list(route.fallback)
        if isinstance(route, StaticRoute):
            called.append(route.model)
        elif isinstance(route, CascadeRoute):
            called += [step.model for step in route.steps]
        elif isinstance(route, LearnedRoute):
            called += list(route.models.values())
        elif isinstance(route, AdaptiveRoute):
            called += list(route.models)
        else:
            called += list(route.levels.values())
            classifier = config.classifiers[route.classifier]
            if isinstance(classifier, LLMClassifierSpec):
                called.append(classifier.model)
    return called


async def evaluate(
    config: RouterConfig,
    request: EvalRequest,
    stderr: Console,
    start_simulator: SimulatorStarter,
) -> Report:
    if request.task not in config.tasks:
        known = ", ".join(sorted(config.tasks))
        raise ConfigError(f"unknown task {request.task!r}: the config has {known}")
    path = request.dataset or default_dataset(request.task)
    dataset = load_dataset(path, task=request.task).limited(request.limit)
    candidates = resolve_candidates(config, request)
    judge = resolve_candidate(config, request.judge) if request.judge else None
    if judge is not None and dataset.kind is Kind.LABELLED:
        # Labels are scored exactly and have no tone: a judge would only cost money.
        stderr.print(f"--judge {judge.label} is not used: {request.task} is a labelled set")
        judge = None
    called = _models_called(config, request.task, candidates)
    called += [judge.base_model] if judge is not None and judge.base_model else []
    async with provider_endpoint(config, called, stderr, start_simulator) as sim_url:
        judge_client = RouterJudge(config, judge, simulator_url=sim_url) if judge else None
        try:
            with rich_progress(stderr) as bars:
                run = await run_eval(
                    config,
                    dataset,
                    candidates,
                    dataset_path=path,
                    concurrency=request.concurrency,
                    judge=judge_client,
                    judge_label=judge.label if judge else None,
                    simulator_url=sim_url,
                    progress=bars,
                )
        finally:
            if judge_client is not None:
                await judge_client.aclose()
    return build_report(run, config)

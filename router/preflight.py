"""What is checked before a worker serves anything: which models the served tasks can
reach, and whether each has its API key. A missing key found at start-up stops the worker
with the variable's name, instead of failing every request after the worker said ready."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llmrouter.core.errors import AuthenticationFailed, ConfigError
from llmrouter.router.config import (
    ComplexityRoute,
    LLMClassifierSpec,
    RouterConfig,
    route_models,
)
from llmrouter.router.providers.pool import ProviderPool

__all__ = ["MissingKey", "Reach", "check_api_keys", "missing_api_keys", "reachable_models"]


@dataclass
class Reach:
    """The models a set of tasks can call, each with the first key path that names it."""

    models: dict[str, str] = field(default_factory=dict)

    def add(self, model: str, where: str) -> None:
        self.models.setdefault(model, where)


def reachable_models(config: RouterConfig, tasks: Iterable[str] | None = None) -> Reach:
    """Every model a served task's routes (main, tiers, batch, budget downgrade, fallbacks),
    their LLM classifiers, its shadow models or its judge can call. `tasks` defaults to
    every task of the config."""
    reach = Reach()
    names = list(config.tasks) if tasks is None else [t for t in tasks if t in config.tasks]
    for name in names:
        task = config.tasks[name]
        routes = [(f"tasks.{name}.route", task.route)]
        routes += [(f"tasks.{name}.tiers.{t.value}", r) for t, r in task.tiers.items()]
        if task.batch is not None:
            routes.append((f"tasks.{name}.batch", task.batch))
        if task.budget is not None:
            routes.append((f"tasks.{name}.budget.downgrade_to", task.budget.downgrade_to))
        for where, route in routes:
            for path, model in route_models(route):
                reach.add(model, f"{where}.{path}")
            if isinstance(route, ComplexityRoute):
                classifier = config.classifiers.get(route.classifier)
                if isinstance(classifier, LLMClassifierSpec):
                    reach.add(classifier.model, f"classifiers.{route.classifier}.model")
        # the quality worker's calls (workers/quality/): shadow models and the judge
        if task.shadow is not None:
            for i, model in enumerate(task.shadow.models):
                reach.add(model, f"tasks.{name}.shadow.models.{i}")
        if task.judge is not None:
            reach.add(task.judge.model, f"tasks.{name}.judge.model")
    return reach


@dataclass(frozen=True)
class MissingKey:
    """A reachable model without its API key: the model, the first key path that reaches
    it, and what is missing (the variable or file to set)."""

    model: str
    where: str
    missing: str

    def __str__(self) -> str:
        return f"model {self.model!r} (reached from {self.where}) has {self.missing}"


async def missing_api_keys(
    config: RouterConfig, tasks: Iterable[str] | None = None, *, pool: ProviderPool | None = None
) -> list[MissingKey]:
    """Every reachable model that has no API key, in the order the routes reach them."""
    own = pool is None
    pool = pool or ProviderPool(config.models)
    missing: list[MissingKey] = []
    try:
        for model, where in reachable_models(config, tasks).models.items():
            try:
                pool.client_for(model)  # reads the key exactly as a call would
            except AuthenticationFailed as exc:
                missing.append(MissingKey(model, where, str(exc.args[0])))
    finally:
        if own:
            await pool.aclose()
    return missing


async def check_api_keys(
    config: RouterConfig, tasks: Iterable[str] | None = None, *, pool: ProviderPool | None = None
) -> None:
    """Raise ConfigError naming the variable (or file) of the first reachable model that
    has no API key. With the simulator URL set, no key is needed."""
    missing = await missing_api_keys(config, tasks, pool=pool)
    if missing:
        first = missing[0]
        raise ConfigError(str(first), key=f"models.{first.model}")

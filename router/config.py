"""The routing config: one YAML file, validated into these models at start-up.

Layout (every key is documented in docs/configuration.md):

    version: 1
    defaults:   retry, cooldown, cache, limits that apply unless a model or task overrides
    models:     the catalog: provider, pinned model id, prices, limits, endpoint
    classifiers: named complexity classifiers (`rules` or `llm`)
    tasks:      per task: the task-matrix fields, prompts, route, tiers, batch, budget

This module holds the root model and the cross-section checks (every name a route uses
resolves); each section's models live in their own module (`config_defaults`,
`config_catalog`, `config_classifiers`, `config_routes`, `config_tasks`) and are
re-exported here, so `llmrouter.router.config` is the one place to import them from.

API keys never appear here: a model names the environment variable (`api_key_env`) or a
mounted secret file (`api_key_file`) to read its key from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from llmrouter.router.config_catalog import ModelSpec, Provider
from llmrouter.router.config_classifiers import (
    ClassifierSpec,
    LLMClassifierSpec,
    RulesClassifierSpec,
    RuleSpec,
)
from llmrouter.router.config_defaults import (
    CacheSettings,
    CooldownSettings,
    Defaults,
    RetrySettings,
)
from llmrouter.router.config_fields import StrictModel, expand_env
from llmrouter.router.config_routes import (
    AdaptiveRoute,
    CascadeRoute,
    CascadeStep,
    ComplexityRoute,
    LearnedRoute,
    Route,
    StaticRoute,
    route_models,
)
from llmrouter.router.config_tasks import (
    BudgetSpec,
    PromptOverride,
    PromptSpec,
    TaskCacheSettings,
    TaskKey,
    TaskSpec,
    check_cascade_prompt,
)

__all__ = [
    "AdaptiveRoute",
    "BudgetSpec",
    "CacheSettings",
    "CascadeRoute",
    "CascadeStep",
    "ClassifierSpec",
    "ComplexityRoute",
    "CooldownSettings",
    "Defaults",
    "LLMClassifierSpec",
    "LearnedRoute",
    "ModelSpec",
    "PromptOverride",
    "PromptSpec",
    "Provider",
    "RetrySettings",
    "Route",
    "RouterConfig",
    "RuleSpec",
    "RulesClassifierSpec",
    "StaticRoute",
    "TaskCacheSettings",
    "TaskSpec",
    "UnresolvedReferences",
    "expand_env",
    "route_models",
]


class RouterConfig(StrictModel):
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    models: dict[str, ModelSpec] = Field(min_length=1)
    classifiers: dict[str, ClassifierSpec] = Field(default_factory=dict)
    tasks: dict[TaskKey, Annotated[TaskSpec, AfterValidator(check_cascade_prompt)]] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> RouterConfig:
        """Every model and classifier a route names must exist; say where it is named."""
        problems: list[tuple[str, str]] = []

        def need_model(name: str, where: str) -> None:
            if name not in self.models:
                problems.append((where, f"unknown model {name!r}"))

        for cname, cspec in self.classifiers.items():
            if isinstance(cspec, LLMClassifierSpec):
                need_model(cspec.model, f"classifiers.{cname}.model")
                if cspec.fallback is not None and not isinstance(
                    self.classifiers.get(cspec.fallback), RulesClassifierSpec
                ):
                    problems.append(
                        (
                            f"classifiers.{cname}.fallback",
                            f"{cspec.fallback!r} is not a rules classifier",
                        )
                    )
        for tname, task in self.tasks.items():
            for model in task.prompt.overrides:
                need_model(model, f"tasks.{tname}.prompt.overrides.{model}")
            named_routes: list[tuple[str, Any]] = [(f"tasks.{tname}.route", task.route)]
            named_routes += [(f"tasks.{tname}.tiers.{t.value}", r) for t, r in task.tiers.items()]
            if task.batch is not None:
                named_routes.append((f"tasks.{tname}.batch", task.batch))
            if task.budget is not None:
                named_routes.append(
                    (f"tasks.{tname}.budget.downgrade_to", task.budget.downgrade_to)
                )
            for where, route in named_routes:
                for field, model in route_models(route):
                    need_model(model, f"{where}.{field}")
                if isinstance(route, ComplexityRoute) and route.classifier not in self.classifiers:
                    problems.append(
                        (f"{where}.classifier", f"unknown classifier {route.classifier!r}")
                    )
            if task.baseline_model is not None:
                need_model(task.baseline_model, f"tasks.{tname}.baseline_model")
            if task.shadow is not None:
                for i, model in enumerate(task.shadow.models):
                    need_model(model, f"tasks.{tname}.shadow.models.{i}")
            if task.judge is not None:
                need_model(task.judge.model, f"tasks.{tname}.judge.model")
        if problems:
            raise UnresolvedReferences(problems)
        return self


class UnresolvedReferences(ValueError):
    """Names in the config that point at nothing; `problems` is [(key path, message)]."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems))
        self.problems = problems

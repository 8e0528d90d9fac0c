"""The routing config: one YAML file, validated into these models at start-up.

Layout (every key is documented in the README's "Routing config" section):

    version: 1
    defaults:   retry, cooldown, cache, limits that apply unless a model or task overrides
    models:     the catalog: provider, pinned model id, prices, limits, endpoint
    classifiers: named complexity classifiers (`rules` or `llm`)
    tasks:      per task: the seed's task-matrix fields, prompts, route, tiers, batch, budget

API keys never appear here: a model names the environment variable (`api_key_env`) or a
mounted secret file (`api_key_file`) to read its key from.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from llmrouter.schemas.enums import Complexity, UserTier
from llmrouter.schemas.topics import TASK_NAME_PATTERN

__all__ = [
    "CacheSettings",
    "CascadeRoute",
    "CascadeStep",
    "ClassifierSpec",
    "ComplexityRoute",
    "CooldownSettings",
    "Defaults",
    "LLMClassifierSpec",
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
]


class _Strict(BaseModel):
    # A misspelt key must stop start-up, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str) -> str:
    """`${VAR}` and `${VAR:-default}` in endpoint URLs, so one file serves every environment."""

    def sub(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1)) or match.group(2)
        if found is None:
            raise ValueError(f"environment variable {match.group(1)} is not set and has no default")
        return found

    return _ENV_REF.sub(sub, value)


def _as_list(value: Any) -> Any:
    """`fallback: gpt-4` and `fallback: [gpt-4]` mean the same."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


ModelList = Annotated[list[str], BeforeValidator(_as_list)]
PositiveUSD = Annotated[Decimal, Field(ge=0)]


class RetrySettings(_Strict):
    """Our one retry layer (the SDKs' own retries are off). Counts are retries of the SAME
    model after the first call; then the route moves on to its fallbacks."""

    rate_limited: int = Field(default=2, ge=0, le=10)
    timeout: int = Field(default=1, ge=0, le=10)
    server_error: int = Field(default=2, ge=0, le=10)
    malformed: int = Field(default=1, ge=0, le=10)
    base_delay_s: float = Field(default=0.25, ge=0)
    max_delay_s: float = Field(default=8.0, ge=0)
    #: a Retry-After longer than this sends the request to a fallback instead of waiting
    max_retry_after_s: float = Field(default=10.0, ge=0)


class CooldownSettings(_Strict):
    """Per-model circuit breaker: after `failures` consecutive retryable failures the model
    is skipped for `cooldown_s`, then one probe call decides whether it is healthy again."""

    failures: int = Field(default=5, ge=1)
    cooldown_s: float = Field(default=5.0, gt=0)
    #: when every model of a route is cooling down, wait up to this long rather than fail
    max_wait_s: float = Field(default=2.0, ge=0)


class CacheSettings(_Strict):
    enabled: bool = True
    ttl_s: int = Field(default=3600, ge=1)
    #: `memory` (per process) or `redis` (shared by replicas; needs `redis_url`)
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str | None = None
    #: answers sampled with temperature > 0 are not cached unless this is true
    cache_sampled: bool = False

    @field_validator("redis_url")
    @classmethod
    def _expand(cls, value: str | None) -> str | None:
        return expand_env(value) if value is not None else None

    @model_validator(mode="after")
    def _redis_needs_url(self) -> CacheSettings:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend 'redis' needs redis_url")
        return self


class TaskCacheSettings(_Strict):
    """A task's own cache policy; the backend is the one of `defaults.cache`."""

    enabled: bool = True
    ttl_s: int = Field(default=3600, ge=1)
    cache_sampled: bool = False


class Defaults(_Strict):
    timeout_s: float = Field(default=30.0, gt=0)
    max_output_tokens: int = Field(default=1024, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    #: hard bound on upstream calls (retries, fallbacks, escalations, classifier) per request
    max_calls_per_request: int = Field(default=6, ge=1, le=50)
    #: inputs longer than this are rejected before any call (dead-lettered by workers)
    max_input_chars: int = Field(default=200_000, ge=1)
    retry: RetrySettings = RetrySettings()
    cooldown: CooldownSettings = CooldownSettings()
    cache: CacheSettings = CacheSettings()


class ModelSpec(_Strict):
    """One entry of the model catalog."""

    provider: Provider
    #: the pinned provider model id sent to the API, e.g. gpt-4-turbo-2024-04-09
    model_id: str = Field(min_length=1)
    input_usd_per_1k: PositiveUSD
    output_usd_per_1k: PositiveUSD
    context_window_tokens: int = Field(default=8192, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_concurrency: int = Field(default=64, ge=1)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    tier: Literal["frontier", "mid", "cheap", "self-hosted"] | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        value = expand_env(value) if value is not None else None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value


class RuleSpec(_Strict):
    """One feature of the rule classifier; its `weight` adds to the score when it fires.

    Exactly one trigger: `min_chars`, `min_questions`, `min_sentences`, or `any_of` (words
    or phrases, case-insensitive, matched on word boundaries)."""

    name: str
    weight: float
    min_chars: int | None = Field(default=None, ge=1)
    min_questions: int | None = Field(default=None, ge=1)
    min_sentences: int | None = Field(default=None, ge=1)
    any_of: list[str] | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> RuleSpec:
        triggers = [self.min_chars, self.min_questions, self.min_sentences, self.any_of]
        if sum(t is not None for t in triggers) != 1:
            raise ValueError(
                "a rule needs exactly one of min_chars, min_questions, min_sentences, any_of"
            )
        return self


class RulesClassifierSpec(_Strict):
    kind: Literal["rules"]
    rules: list[RuleSpec] = Field(min_length=1)
    #: score at or above → MEDIUM / COMPLEX
    medium_at: float = 1.0
    complex_at: float = 2.0

    @model_validator(mode="after")
    def _ordered(self) -> RulesClassifierSpec:
        if self.complex_at <= self.medium_at:
            raise ValueError("complex_at must be greater than medium_at")
        return self


class LLMClassifierSpec(_Strict):
    kind: Literal["llm"]
    model: str
    #: the seed's classifier prompt; `{question}` / `{input}` is the request input
    prompt: str
    max_output_tokens: int = Field(default=10, ge=1)
    #: the rules classifier used when the model call or its reply fails
    fallback: str | None = None


ClassifierSpec = Annotated[RulesClassifierSpec | LLMClassifierSpec, Field(discriminator="kind")]


class PromptOverride(_Strict):
    system: str | None = None
    template: str | None = None


class PromptSpec(_Strict):
    """A task's prompt. `template` is filled with `{input}` (alias `{question}`) and the
    request's `context` keys (e.g. `{kb_context}`); models may override either part."""

    system: str | None = None
    template: str = "{input}"
    #: `json` asks for a JSON answer; cascades read its `confidence` field
    response_format: Literal["text", "json"] = "text"
    overrides: dict[str, PromptOverride] = Field(default_factory=dict)


class StaticRoute(_Strict):
    strategy: Literal["static"]
    model: str
    fallback: ModelList = Field(default_factory=list)


class ComplexityRoute(_Strict):
    strategy: Literal["complexity"]
    classifier: str
    levels: dict[Complexity, str]
    fallback: ModelList = Field(default_factory=list)

    @field_validator("levels")
    @classmethod
    def _all_levels(cls, value: dict[Complexity, str]) -> dict[Complexity, str]:
        missing = [c.value for c in Complexity if c not in value]
        if missing:
            raise ValueError(f"missing levels: {', '.join(missing)}")
        return value


class CascadeStep(_Strict):
    model: str
    #: accept this step's answer when its confidence is at least this; else escalate
    min_confidence: float = Field(default=0.0, ge=0, le=1)


class CascadeRoute(_Strict):
    strategy: Literal["cascade"]
    steps: list[CascadeStep] = Field(min_length=1)
    #: where confidence comes from: the JSON answer's `confidence` field, or a scorer
    #: given as `module:function` taking (task, input, output) and returning 0..1
    scorer: str = "json_confidence"
    fallback: ModelList = Field(default_factory=list)


Route = Annotated[StaticRoute | ComplexityRoute | CascadeRoute, Field(discriminator="strategy")]


def _model_shorthand(value: Any) -> Any:
    """`free: {model: x}` or `free: x` is a static route to x."""
    if isinstance(value, str):
        return {"strategy": "static", "model": value}
    if isinstance(value, dict) and "strategy" not in value and "model" in value:
        return {"strategy": "static", **value}
    return value


RouteOrModel = Annotated[Route, BeforeValidator(_model_shorthand)]


class BudgetSpec(_Strict):
    daily_usd: PositiveUSD
    #: the route taken once the day's spend reaches daily_usd
    downgrade_to: RouteOrModel


class TaskSpec(_Strict):
    description: str | None = None
    # The seed's task matrix: kept for reports and for the savings baseline.
    volume_per_day: int | None = Field(default=None, ge=0)
    latency_target_ms: int | None = Field(default=None, ge=1)
    quality_requirement: Literal["low", "medium", "high", "critical"] | None = None
    #: the model everything went to before routing; savings are reported against it
    baseline_model: str | None = None
    prompt: PromptSpec = PromptSpec()
    route: Route
    tiers: dict[UserTier, RouteOrModel] = Field(default_factory=dict)
    #: the route for `priority: batch` requests (nobody is waiting; take the cheaper path)
    batch: RouteOrModel | None = None
    budget: BudgetSpec | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, ge=1)
    cache: TaskCacheSettings | None = None


def _check_cascade_prompt(task: TaskSpec) -> TaskSpec:
    routes = [task.route, *task.tiers.values(), task.batch]
    if task.budget is not None:
        routes.append(task.budget.downgrade_to)
    for route in routes:
        if (
            isinstance(route, CascadeRoute)
            and route.scorer == "json_confidence"
            and task.prompt.response_format != "json"
        ):
            raise ValueError(
                "a cascade scored by json_confidence needs prompt.response_format: json "
                "(or a scorer of your own)"
            )
    return task


TaskKey = Annotated[str, StringConstraints(pattern=rf"^{TASK_NAME_PATTERN}$")]


class RouterConfig(_Strict):
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    models: dict[str, ModelSpec] = Field(min_length=1)
    classifiers: dict[str, ClassifierSpec] = Field(default_factory=dict)
    tasks: dict[TaskKey, Annotated[TaskSpec, AfterValidator(_check_cascade_prompt)]] = Field(
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
                for field, model in _route_models(route):
                    need_model(model, f"{where}.{field}")
                if isinstance(route, ComplexityRoute) and route.classifier not in self.classifiers:
                    problems.append(
                        (f"{where}.classifier", f"unknown classifier {route.classifier!r}")
                    )
            if task.baseline_model is not None:
                need_model(task.baseline_model, f"tasks.{tname}.baseline_model")
        if problems:
            raise UnresolvedReferences(problems)
        return self


class UnresolvedReferences(ValueError):
    """Names in the config that point at nothing; `problems` is [(key path, message)]."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in problems))
        self.problems = problems


def _route_models(route: StaticRoute | ComplexityRoute | CascadeRoute) -> list[tuple[str, str]]:
    """(field path, model name) for every model a route names."""
    named: list[tuple[str, str]] = []
    if isinstance(route, StaticRoute):
        named.append(("model", route.model))
    elif isinstance(route, ComplexityRoute):
        named += [(f"levels.{level.value}", m) for level, m in route.levels.items()]
    else:
        named += [(f"steps.{i}.model", s.model) for i, s in enumerate(route.steps)]
    named += [(f"fallback.{i}", m) for i, m in enumerate(route.fallback)]
    return named

"""The config's `tasks` section: per task its prompt, route, per-tier and batch routes,
daily budget and overrides."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from llmrouter.router.config_fields import PositiveUSD, StrictModel
from llmrouter.router.config_quality import JudgeSpec, QualityWatchSpec, ShadowSpec
from llmrouter.router.config_routes import CascadeRoute, Route, RouteOrModel
from llmrouter.router.scoring import DEFAULT_SCORER
from llmrouter.schemas.enums import UserTier
from llmrouter.schemas.topics import TASK_NAME_PATTERN

__all__ = [
    "BudgetSpec",
    "PromptOverride",
    "PromptSpec",
    "TaskCacheSettings",
    "TaskEvalSpec",
    "TaskKey",
    "TaskSpec",
    "check_cascade_prompt",
]

#: a task's name as a config key: the same rule as the task part of topic names
TaskKey = Annotated[str, StringConstraints(pattern=rf"^{TASK_NAME_PATTERN}$")]


class TaskCacheSettings(StrictModel):
    """A task's own cache policy; the backend is the one of `defaults.cache`."""

    enabled: bool = True
    ttl_s: int = Field(default=3600, ge=1)
    cache_sampled: bool = False


class PromptOverride(StrictModel):
    system: str | None = None
    template: str | None = None


class PromptSpec(StrictModel):
    """A task's prompt. `template` is filled with `{input}` (alias `{question}`) and the
    request's `context` keys (e.g. `{kb_context}`), each declared under `context` with the
    text used when a request lacks it; models may override either part. A literal brace
    is written twice, `{{` and `}}`, as in Python's str.format."""

    system: str | None = None
    template: str = "{input}"
    #: the context keys the templates use, each with its value for requests without it
    context: dict[str, str] = Field(default_factory=dict)
    #: `json` asks for a JSON answer; cascades read its `confidence` field
    response_format: Literal["text", "json"] = "text"
    overrides: dict[str, PromptOverride] = Field(default_factory=dict)
    #: prompt caching of the static part of the prompt (everything before the request's
    #: `{input}`): a cache breakpoint for providers that take one (Anthropic), kept 5 minutes
    #: or an hour; `off` places none. OpenAI caches long prefixes by itself.
    cache: Literal["off", "5m", "1h"] = "5m"
    #: a JSON Schema (an object schema) every answer must follow: asked for through each
    #: provider's native structured output, and checked; an answer that breaks it is a
    #: failed step (`invalid_output`) the route moves on from (router/answer_schema.py)
    response_schema: dict[str, Any] | None = None

    @field_validator("response_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            from llmrouter.router.answer_schema import schema_problem

            problem = schema_problem(schema)
            if problem is not None:
                raise ValueError(problem)
        return schema


class BudgetSpec(StrictModel):
    daily_usd: PositiveUSD
    #: the route taken once the day's spend reaches daily_usd
    downgrade_to: RouteOrModel


class TaskEvalSpec(StrictModel):
    """How a task's answers are compared in `eval`, `compare` and `replay`."""

    #: the label whose misses matter (e.g. `unsafe`): eval reports its false-negative rate
    positive_label: str | None = Field(default=None, min_length=1)
    #: the JSON field compared when answers are JSON objects (else the whole answer)
    label_field: str = Field(default="label", min_length=1)


class TaskSpec(StrictModel):
    description: str | None = None
    # The task matrix: kept for reports and for the savings baseline.
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
    #: a request older than this when a worker reads it gets a `failed` result with reason
    #: `expired` and no provider call; default by priority (see DEFAULT_MAX_AGE_S)
    max_age_s: float | None = Field(default=None, gt=0)
    #: eval settings: the label that matters and the JSON field compared
    eval: TaskEvalSpec = TaskEvalSpec()
    #: quality in production (router/config_quality.py): mirror a sample of answered
    #: requests to candidate models, grade a sample of answers, watch live quality
    shadow: ShadowSpec | None = None
    judge: JudgeSpec | None = None
    quality: QualityWatchSpec = QualityWatchSpec()


def check_cascade_prompt(task: TaskSpec) -> TaskSpec:
    """A cascade scored by the answer's own `confidence` needs the prompt to ask for JSON."""
    routes = [task.route, *task.tiers.values(), task.batch]
    if task.budget is not None:
        routes.append(task.budget.downgrade_to)
    for route in routes:
        if (
            isinstance(route, CascadeRoute)
            and route.scorer == DEFAULT_SCORER
            and task.prompt.response_format != "json"
        ):
            raise ValueError(
                f"a cascade scored by {DEFAULT_SCORER} needs prompt.response_format: json "
                "(or a scorer of your own)"
            )
    return task

"""Routes: how a task picks its model — one model (`static`), by complexity
(`complexity`), cheapest first with escalation on low confidence (`cascade`), or by a
router trained on the team's own outcomes (`learned`), or learning online from live scores
(`adaptive`, router/config_quality.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from llmrouter.router.config_fields import ModelList, StrictModel
from llmrouter.router.config_quality import AdaptiveRoute
from llmrouter.router.scoring import DEFAULT_SCORER
from llmrouter.schemas.enums import Complexity

__all__ = [
    "AdaptiveRoute",
    "AnyRoute",
    "CascadeRoute",
    "CascadeStep",
    "ComplexityRoute",
    "LearnedRoute",
    "Route",
    "RouteOrModel",
    "StaticRoute",
    "route_models",
]


class StaticRoute(StrictModel):
    strategy: Literal["static"]
    model: str
    fallback: ModelList = Field(default_factory=list)


class ComplexityRoute(StrictModel):
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


class CascadeStep(StrictModel):
    model: str
    #: accept this step's answer when its confidence is at least this; else escalate
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    #: this step's own scorer (e.g. `learned:PATH`, trained on this model's answers);
    #: None takes the route's
    scorer: str | None = None


class CascadeRoute(StrictModel):
    strategy: Literal["cascade"]
    steps: list[CascadeStep] = Field(min_length=1)
    #: where confidence comes from: the JSON answer's `confidence` field, or a scorer
    #: given as `module:function` taking (task, input, output) and returning 0..1
    scorer: str = DEFAULT_SCORER
    fallback: ModelList = Field(default_factory=list)


class LearnedRoute(StrictModel):
    """A router trained with `llmrouter learn train`: per prompt, the model maximising
    predicted score − cost_weight × predicted cost (USD), or with `quality_target` the
    cheapest model predicted to reach it."""

    strategy: Literal["learned"]
    #: the saved router file (relative paths are taken from the working directory)
    router: Path
    cost_weight: float | None = Field(default=None, ge=0)
    quality_target: float | None = Field(default=None, ge=0, le=1)
    #: the router's model names → catalog names; every model the router knows is listed
    models: dict[str, str] = Field(min_length=1)
    fallback: ModelList = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_knob(self) -> LearnedRoute:
        if self.cost_weight is not None and self.quality_target is not None:
            raise ValueError("give cost_weight or quality_target, not both")
        return self


AnyRoute = StaticRoute | ComplexityRoute | CascadeRoute | LearnedRoute | AdaptiveRoute
Route = Annotated[AnyRoute, Field(discriminator="strategy")]


def _model_shorthand(value: Any) -> Any:
    """`free: {model: x}` or `free: x` is a static route to x."""
    if isinstance(value, str):
        return {"strategy": "static", "model": value}
    if isinstance(value, dict) and "strategy" not in value and "model" in value:
        return {"strategy": "static", **value}
    return value


RouteOrModel = Annotated[Route, BeforeValidator(_model_shorthand)]


def route_models(route: AnyRoute) -> list[tuple[str, str]]:
    """(field path, model name) for every model a route names."""
    named: list[tuple[str, str]] = []
    if isinstance(route, StaticRoute):
        named.append(("model", route.model))
    elif isinstance(route, ComplexityRoute):
        named += [(f"levels.{level.value}", m) for level, m in route.levels.items()]
    elif isinstance(route, LearnedRoute):
        named += [(f"models.{name}", m) for name, m in route.models.items()]
    elif isinstance(route, AdaptiveRoute):
        named += [(f"models.{i}", m) for i, m in enumerate(route.models)]
    else:
        named += [(f"steps.{i}.model", s.model) for i, s in enumerate(route.steps)]
    named += [(f"fallback.{i}", m) for i, m in enumerate(route.fallback)]
    return named

"""Quality in production, in the config: a task's shadow traffic (`shadow`), online judge
(`judge`) and live-quality watch (`quality`), and the `adaptive` route that learns online
which of its models gives the most quality for the cost (router/adaptive.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from llmrouter.router.config_fields import ModelList, PositiveUSD, StrictModel
from llmrouter.router.judging import RubricName

__all__ = ["AdaptivePrior", "AdaptiveRoute", "JudgeSpec", "QualityWatchSpec", "ShadowSpec"]


class AdaptivePrior(StrictModel):
    """What an adaptive route believes of a model before any score: its quality `mean` as
    worth `weight` scores (e.g. an offline eval's accuracy and how far it is trusted)."""

    mean: float = Field(default=0.5, ge=0, le=1)
    weight: float = Field(default=2.0, gt=0)


class AdaptiveRoute(StrictModel):
    """Per request, one of `models` by Thompson sampling on each model's quality posterior
    (live scores and feedback, router/state/posteriors.py) minus `cost_weight` × its mean
    cost per answer in USD; each model keeps at least `exploration` / len(models) of the
    traffic, and a model whose posterior mean is below `min_quality` gets none (unless
    every model is below it)."""

    strategy: Literal["adaptive"]
    models: ModelList = Field(min_length=1)
    #: quality points given up for one USD saved per answer (0: quality alone)
    cost_weight: float = Field(default=0.0, ge=0)
    #: per model: the prior of its quality; a model not named starts at mean 0.5, weight 2
    priors: dict[str, AdaptivePrior] = Field(default_factory=dict)
    #: the share of traffic spread evenly over the eligible models, whatever the posteriors
    exploration: float = Field(default=0.05, ge=0, le=1)
    #: the guardrail: a model whose posterior mean is below it is not chosen
    min_quality: float | None = Field(default=None, ge=0, le=1)
    #: how long a router keeps the posteriors it read from the store (one read per task
    #: per this many seconds, not per request)
    cache_s: float = Field(default=5.0, gt=0)
    fallback: ModelList = Field(default_factory=list)

    @model_validator(mode="after")
    def _priors_of_models(self) -> AdaptiveRoute:
        unknown = sorted(set(self.priors) - set(self.models))
        if unknown:
            raise ValueError(f"priors for models not in the route: {', '.join(unknown)}")
        return self


class ShadowSpec(StrictModel):
    """Mirror a sample of a task's answered live requests to candidate models, after the
    live answer is published; their answers go to `llm.shadow.<task>`, never to clients."""

    #: the share of answered requests mirrored (chosen by a hash of the request id)
    rate: float = Field(ge=0, le=1)
    models: ModelList = Field(min_length=1)
    #: the day's spend on this task's shadow calls and judge calls (its own budget,
    #: never the task's); once spent, no shadow call or judge call is made that day
    daily_budget_usd: PositiveUSD


class JudgeSpec(StrictModel):
    """Grade a sample of a task's live and shadow answers with a model, on the offline
    evaluation's rubric (router/judging.py); scores go to `llm.scores`."""

    model: str
    rubric: RubricName = "accuracy"
    #: the share of answers graded (chosen by a hash of the request id and the model)
    sample_rate: float = Field(default=0.1, ge=0, le=1)
    #: the day's spend on judge calls when the task has no shadow budget
    daily_budget_usd: PositiveUSD | None = None


class QualityWatchSpec(StrictModel):
    """How a task's live quality is kept per model, and when it has drifted: the mean of
    the latest `window` scores is below the mean of the `baseline` scores before them by
    more than `drift_margin`, both having at least `min_scores`."""

    window: int = Field(default=50, ge=1)
    baseline: int = Field(default=200, ge=1)
    drift_margin: float = Field(default=0.1, gt=0, le=1)
    min_scores: int = Field(default=20, ge=1)
    #: each new score weighs the posterior's evidence so far by this (1 keeps all
    #: evidence; below 1 forgets, so an adaptive route follows a model that changed)
    posterior_decay: float = Field(default=0.98, gt=0, le=1)

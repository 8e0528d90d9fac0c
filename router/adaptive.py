"""The adaptive route's choice: per request, one of its models, by Thompson sampling on
each model's quality posterior, Beta(prior + decayed successes, prior + decayed failures),
with the model's mean cost per answer weighed in: value = quality − cost_weight × cost.

The probability of each model being the sampled best is worked out once per route's
`cache_s` (by drawing the posteriors a few thousand times), on evidence read then from
router/state/posteriors.py; a request then takes model i with probability
(1 − exploration) × P(i is best) + exploration / k over the k models the guardrail leaves
(posterior mean ≥ `min_quality`). That is Thompson sampling's choice in distribution, and
it gives every decision its exact probability (`route_probability` on the result), so the
choices logged can be evaluated offline without bias. The uniform number of a request is
a hash of its request id: a redelivered request makes the same choice on the same
posteriors. The hot path reads memory only; a stale task refreshes with one store read.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from llmrouter.core.errors import LLMRouterError
from llmrouter.router.config_quality import AdaptivePrior, AdaptiveRoute
from llmrouter.router.state.posteriors import Evidence, Posteriors

__all__ = ["AdaptiveChooser", "Choice", "choice_probabilities"]

log = structlog.get_logger("llmrouter.router.adaptive")

#: draws of the posteriors per refresh: the probabilities are good to about ±1%
DRAWS = 4000
_DEFAULT_PRIOR = AdaptivePrior()


@dataclass(frozen=True, slots=True)
class Choice:
    model: str
    probability: float


def _beta(route: AdaptiveRoute, model: str, evidence: Evidence) -> tuple[float, float]:
    prior = route.priors.get(model, _DEFAULT_PRIOR)
    alpha = prior.mean * prior.weight + evidence.successes
    beta = (1.0 - prior.mean) * prior.weight + evidence.failures
    return max(alpha, 1e-6), max(beta, 1e-6)


def choice_probabilities(
    route: AdaptiveRoute,
    evidence: Mapping[str, Evidence],
    rng: random.Random,
    draws: int = DRAWS,
) -> dict[str, float]:
    """Each model's probability of being chosen, summing to 1."""
    models = list(dict.fromkeys(route.models))
    params = {m: _beta(route, m, evidence.get(m, Evidence())) for m in models}
    eligible = models
    if route.min_quality is not None:
        kept = [m for m in models if params[m][0] / sum(params[m]) >= route.min_quality]
        # every model below the guardrail: the best of them, alone
        eligible = kept or [max(models, key=lambda m: params[m][0] / sum(params[m]))]
    costs = {m: (evidence.get(m) or Evidence()).cost_usd or 0.0 for m in eligible}
    wins = dict.fromkeys(eligible, 0)
    for _ in range(draws):
        best = max(
            eligible,
            key=lambda m: rng.betavariate(*params[m]) - route.cost_weight * costs[m],
        )
        wins[best] += 1
    share = route.exploration / len(eligible)
    probabilities = dict.fromkeys(models, 0.0)
    for m in eligible:
        probabilities[m] = (1.0 - route.exploration) * wins[m] / draws + share
    return probabilities


def _unit(request_id: str) -> float:
    digest = hashlib.blake2b(request_id.encode(), digest_size=8, person=b"adaptive").digest()
    return int.from_bytes(digest, "big") / 2.0**64


class AdaptiveChooser:
    """The adaptive routes' choice probabilities, per task, refreshed from the posteriors."""

    def __init__(
        self,
        posteriors: Posteriors,
        *,
        draws: int = DRAWS,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self._posteriors = posteriors
        self._draws = draws
        self._clock = clock
        self._rng = random.Random(seed)
        #: (task, the route's id) → (when read, probabilities, the route: kept alive)
        self._cached: dict[tuple[str, int], tuple[float, dict[str, float], AdaptiveRoute]] = {}

    async def refresh(self, task: str, route: AdaptiveRoute) -> None:
        """Read the posteriors again if this task's are older than the route's cache_s."""
        key = (task, id(route))
        cached = self._cached.get(key)
        now = self._clock()
        if cached is not None and now - cached[0] < route.cache_s:
            return
        # Marked fresh first: requests arriving during the read keep the old probabilities.
        old = cached[1] if cached is not None else None
        self._cached[key] = (now, old or self._probabilities(route, {}), route)
        try:
            evidence = await self._posteriors.read(task, route.models)
        except LLMRouterError as exc:  # the store is down: the last probabilities stand
            log.warning("adaptive route: posteriors unreadable", task=task, error=str(exc))
            return
        self._cached[key] = (now, self._probabilities(route, evidence), route)

    def _probabilities(
        self, route: AdaptiveRoute, evidence: Mapping[str, Evidence]
    ) -> dict[str, float]:
        return choice_probabilities(route, evidence, self._rng, self._draws)

    def probabilities(self, task: str, route: AdaptiveRoute) -> dict[str, float]:
        cached = self._cached.get((task, id(route)))
        if cached is None:
            cached = (self._clock(), self._probabilities(route, {}), route)
            self._cached[(task, id(route))] = cached
        return cached[1]

    def choose(self, task: str, route: AdaptiveRoute, request_id: str) -> Choice:
        """The model for this request, and the probability it had of being chosen."""
        probabilities = self.probabilities(task, route)
        u = _unit(request_id)
        total = 0.0
        last = route.models[0]
        for model, p in probabilities.items():
            if p <= 0:
                continue
            last = model
            total += p
            if u < total:
                return Choice(model, p)
        return Choice(last, probabilities[last])

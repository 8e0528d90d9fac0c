"""Picking the limiters, breakers, budget and dedupe a router runs with, once at start-up:
shared through the store when one is configured, else this process's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import structlog

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.breaker import Breaker, CircuitBreaker
from llmrouter.router.budget import Budget, BudgetTracker
from llmrouter.router.config import RouterConfig
from llmrouter.router.ratelimit import Limiter, ModelLimiter
from llmrouter.router.state.breaker import SharedBreaker
from llmrouter.router.state.budget import Rebuild, SharedBudget, spend_from_costs
from llmrouter.router.state.dedupe import (
    DEFAULT_CLAIM_LEASE_S,
    Dedupe,
    MemoryDedupe,
    SharedDedupe,
)
from llmrouter.router.state.limits import SharedLimiter
from llmrouter.router.state.posteriors import MemoryPosteriors, Posteriors, SharedPosteriors
from llmrouter.router.state.store import StateStore, StoreSettings

__all__ = ["RouterState", "local_state", "open_state"]

log = structlog.get_logger("llmrouter.state")

# A concurrency lease outlives the longest call it covers by this much.
_LEASE_MARGIN_S = 30.0


@dataclass
class RouterState:
    limiters: Mapping[str, Limiter]
    breakers: Mapping[str, Breaker]
    budget: Budget
    dedupe: Dedupe
    store: StateStore | None = None
    #: the per-process limiters, which take their share of each limit by group size
    local_limiters: Mapping[str, ModelLimiter] = field(default_factory=dict)
    #: the adaptive routes' evidence, recorded by the quality worker (posteriors.py)
    posteriors: Posteriors = field(default_factory=MemoryPosteriors)

    @property
    def shared(self) -> bool:
        return self.store is not None

    def set_replicas(self, replicas: int) -> None:
        """Without a store (or while it is down): each process takes 1/`replicas` of every
        model's limits, and of the day's remaining budget (router/state/budget.py)."""
        for limiter in self.local_limiters.values():
            limiter.set_replicas(replicas)
        if isinstance(self.budget, SharedBudget):
            self.budget.set_replicas(replicas)

    async def aclose(self) -> None:
        await self.dedupe.aclose()
        await self.budget.aclose()
        if self.store is not None:
            await self.store.aclose()


def local_state(config: RouterConfig, *, replicas: int = 1) -> RouterState:
    """Everything in this process: what a single router (and every unit test) runs with."""
    limiters = {
        name: ModelLimiter(spec, model=name, replicas=replicas)
        for name, spec in config.models.items()
    }
    return RouterState(
        limiters=limiters,
        breakers={name: CircuitBreaker(name, config.defaults.cooldown) for name in config.models},
        budget=BudgetTracker(),
        dedupe=MemoryDedupe(
            config.defaults.dedupe_window_s,
            max_result_bytes=config.defaults.dedupe_max_result_bytes,
        ),
        local_limiters=limiters,
    )


def open_state(
    config: RouterConfig,
    *,
    kafka: KafkaSettings | None = None,
    store: StateStore | None = None,
    window_s: float = 60.0,
    namespace: str = "",
    claim_lease_s: float = DEFAULT_CLAIM_LEASE_S,
) -> RouterState:
    """The shared state when `defaults.state.redis_url` (or $LLMROUTER_REDIS_URL) names a
    store, else `local_state`. `kafka` lets the budget be rebuilt from `llm.costs`;
    `namespace` (the deployment's group prefix) keeps deployments sharing a store apart;
    `claim_lease_s` is how long a dead worker's request-id claims outlive it (workers pass
    their Kafka session timeout: the claims go when the partitions do)."""
    if store is None:
        settings = StoreSettings.from_env(config.defaults.state.redis_url)
        if settings.url is None:
            log.info(
                "no state store: rate limits, budgets, cooldowns and duplicates are per "
                "process; limits are split by the consumer group's size"
            )
            return local_state(config)
        store = StateStore.connect(
            settings, prefix=f"llmrouter:{namespace.rstrip('-')}" if namespace else "llmrouter"
        )
    defaults = config.defaults
    timeout_s = max(
        [defaults.timeout_s]
        + [m.timeout_s for m in config.models.values() if m.timeout_s is not None]
        + [t.timeout_s for t in config.tasks.values() if t.timeout_s is not None]
    )

    rebuild: Rebuild | None = None
    if kafka is not None:
        costs_from = kafka

        async def rebuild_from_costs(day: date, tasks: frozenset[str]) -> Mapping[str, int]:
            return await spend_from_costs(costs_from, day, tasks)

        rebuild = rebuild_from_costs
    budgeted = [name for name, task in config.tasks.items() if task.budget is not None]
    log.info(
        "state store in use: rate limits, budgets, cooldowns and duplicates are shared",
        url=store.url,
    )
    # While the store cannot be reached each process falls back to its share of the limits.
    fallbacks = {
        name: ModelLimiter(spec, model=name, start_full=False)
        for name, spec in config.models.items()
    }
    return RouterState(
        limiters={
            name: SharedLimiter(
                name,
                spec,
                store,
                lease_s=timeout_s + _LEASE_MARGIN_S,
                window_s=window_s,
                fallback=fallbacks[name],
            )
            for name, spec in config.models.items()
        },
        local_limiters=fallbacks,
        breakers={
            name: SharedBreaker(
                name, defaults.cooldown, store, probe_lease_s=timeout_s + _LEASE_MARGIN_S
            )
            for name in config.models
        },
        budget=SharedBudget(store, budgeted, rebuild=rebuild),
        dedupe=SharedDedupe(
            store,
            defaults.dedupe_window_s,
            lease_s=claim_lease_s,
            max_result_bytes=defaults.dedupe_max_result_bytes,
        ),
        store=store,
        posteriors=SharedPosteriors(store),
    )

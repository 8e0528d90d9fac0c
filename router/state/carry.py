"""What a reloaded router keeps of the state it replaces.

A SIGHUP reload builds a router for the new config, but a rate limit, a breaker's
cooldown, the day's spend and reservations, and the request-id claims are facts about
the world, not about the file: a fresh token bucket would start full and let a model at
its rpm take a second minute's worth of calls at once. So the new router gets the old
router's limiter of every model whose limits are unchanged, its breaker of every model
while the cooldown settings are unchanged, its budget (while the budgeted tasks are the
same; a shared budget's spend is in the store anyway), its dedupe, and its store — one
connection for the process, never a second one per reload.
"""

from __future__ import annotations

from llmrouter.router.config import ModelSpec, RouterConfig
from llmrouter.router.state.wiring import RouterState

__all__ = ["LIMIT_FIELDS", "carry_over"]

#: the fields of a model its limiter is made from: a change of any makes a new limiter
LIMIT_FIELDS = ("rpm", "tpm", "max_concurrency", "queue_s")


def _limits(spec: ModelSpec) -> tuple[object, ...]:
    return tuple(getattr(spec, name) for name in LIMIT_FIELDS)


def _budgeted(config: RouterConfig) -> frozenset[str]:
    return frozenset(name for name, task in config.tasks.items() if task.budget is not None)


def carry_over(
    old: RouterState, old_config: RouterConfig, fresh: RouterState, config: RouterConfig
) -> RouterState:
    """`fresh` (made for `config`, on `old`'s store when it has one) with `old`'s parts
    wherever their settings did not change. Between a per-process state and a shared one
    nothing carries over: they count different things."""
    if old.shared != fresh.shared or old.store is not fresh.store:
        return fresh
    limiters = dict(fresh.limiters)
    local = dict(fresh.local_limiters)
    breakers = dict(fresh.breakers)
    same_cooldown = old_config.defaults.cooldown == config.defaults.cooldown
    for name, spec in config.models.items():
        before = old_config.models.get(name)
        if before is None:
            continue
        if _limits(before) == _limits(spec) and name in old.limiters:
            limiters[name] = old.limiters[name]
            if name in old.local_limiters:
                local[name] = old.local_limiters[name]
        if same_cooldown and name in old.breakers:
            breakers[name] = old.breakers[name]
    same_budgets = not fresh.shared or _budgeted(old_config) == _budgeted(config)
    return RouterState(
        limiters=limiters,
        breakers=breakers,
        budget=old.budget if same_budgets else fresh.budget,
        dedupe=old.dedupe,
        store=old.store,
        local_limiters=local,
    )

"""Which worker reads a task's requests first.

A task whose routes can need a request's complexity (a `complexity` route as the task's
route, a user tier's, its batch route or its budget downgrade) passes the classifier stage:
`llm.requests.<task>` → classifier → `llm.classified.<task>` → router. The router reads
every other task's requests straight from `llm.requests.<task>`: a classifier stage that
only copies a request costs a Kafka hop (a transaction, a write, a read) and the
classifier's CPU, and adds its latency, for nothing. `defaults.classifier_stage: always`
keeps every task on the classifier's path.
"""

from __future__ import annotations

from llmrouter.router.config import RouterConfig, TaskSpec
from llmrouter.router.config_routes import AnyRoute, ComplexityRoute

__all__ = ["classified_tasks", "direct_tasks", "needs_classifier_stage", "routes_of"]


def routes_of(task: TaskSpec) -> list[AnyRoute]:
    """Every route a request of `task` can take (router/decision.py `select_route`)."""
    routes: list[AnyRoute | None] = [task.route, *task.tiers.values(), task.batch]
    if task.budget is not None:
        routes.append(task.budget.downgrade_to)
    return [route for route in routes if route is not None]


def needs_classifier_stage(task: TaskSpec) -> bool:
    """Whether a request of `task` may need a complexity before its route is planned."""
    return any(isinstance(route, ComplexityRoute) for route in routes_of(task))


def direct_tasks(config: RouterConfig) -> frozenset[str]:
    """The tasks whose requests the router reads straight from `llm.requests.<task>`."""
    if config.defaults.classifier_stage == "always":
        return frozenset()
    return frozenset(
        name for name, task in config.tasks.items() if not needs_classifier_stage(task)
    )


def classified_tasks(config: RouterConfig) -> frozenset[str]:
    """The tasks whose requests pass the classifier stage."""
    return frozenset(config.tasks) - direct_tasks(config)

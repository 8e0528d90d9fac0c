"""What a worker process does around its consume loop: decide which topics it reads,
check before serving what would fail every request, say at start-up what it serves, and
reload its config on SIGHUP."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import structlog

from llmrouter.core.errors import ConfigError
from llmrouter.router import RouterConfig, RoutingEngine, load_config
from llmrouter.router.paths import direct_tasks
from llmrouter.router.preflight import check_api_keys, reachable_models
from llmrouter.router.providers.pool import SIMULATOR_ENV
from llmrouter.router.state.carry import carry_over
from llmrouter.router.state.store import StateStore, redacted_url
from llmrouter.router.state.wiring import RouterState, local_state, open_state
from llmrouter.schemas.topics import TASK_NAME_PATTERN, results_topic, task_topic_pattern
from llmrouter.workers.kinds import WorkerKind

__all__ = [
    "EVERY_TASK",
    "ConfigReloader",
    "RouterUser",
    "answerable",
    "check_before_serving",
    "log_startup",
    "subscription_pattern",
]

log = structlog.get_logger("llmrouter.workers")

#: `LLMROUTER_TASKS_PATTERN=*` reads the topics of every task on the cluster, served or not
EVERY_TASK = "*"


class RouterUser(Protocol):
    """A handler: it routes with whatever router it holds when a record arrives."""

    router: RoutingEngine


def subscription_pattern(kind: WorkerKind, config: RouterConfig, tasks_pattern: str | None) -> str:
    """The topics a worker reads: by default those of its config's tasks and no other, so
    a deployment never reads (and dead-letters) another deployment's tasks. A pattern
    (`*` for every task) is for a deployment that wants the tasks of others too.

    The classifier reads the requests of every such task but those the router reads
    directly (router/paths.py); the router reads every such task's classified requests
    (an older classifier may still forward a direct task's) and the direct tasks'
    requests."""
    if tasks_pattern is None:
        tasks = _alternatives(config.tasks)
    elif tasks_pattern == EVERY_TASK:
        tasks = TASK_NAME_PATTERN
    else:
        tasks = tasks_pattern
    direct = direct_tasks(config)
    if kind == "classifier":
        if direct:  # a task name that is not exactly one of the direct tasks
            tasks = f"(?!(?:{_alternatives(direct)})$)(?:{tasks})"
        return task_topic_pattern("requests", tasks)
    classified = task_topic_pattern("classified", tasks)
    if not direct:
        return classified
    return f"{classified}|{task_topic_pattern('requests', _alternatives(direct))}"


def _alternatives(tasks: Iterable[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(tasks))


def answerable(user: RouterUser, has_topic: Callable[[str], bool]) -> Callable[[str], bool]:
    """Whether a failed result may be published for a task: one the config serves (its
    topics are created at start-up), or one whose results topic is known to exist."""
    return lambda task: task in user.router.config.tasks or has_topic(results_topic(task))


def simulated() -> bool:
    return bool(os.environ.get(SIMULATOR_ENV))


async def check_before_serving(config: RouterConfig) -> None:
    """Stop start-up (ConfigError naming the variable) when a model a served task can reach
    has no API key. The simulator needs none."""
    if not simulated():
        await check_api_keys(config)


def log_startup(
    kinds: Sequence[str],
    config: RouterConfig,
    config_path: Path | None,
    *,
    group_prefix: str,
    instance_id: str,
    tasks_pattern: str | None,
) -> None:
    models = reachable_models(config).models
    log.info(
        "llmrouter starting",
        workers=list(kinds),
        config=str(config_path) if config_path else "(given in code)",
        tasks=sorted(config.tasks),
        tasks_pattern=tasks_pattern or "(the config's tasks)",
        providers=sorted({config.models[m].provider.value for m in models}),
        models=sorted(models),
        simulator=redacted_url(url) if (url := os.environ.get(SIMULATOR_ENV)) else None,
        group_prefix=group_prefix,
        instance_id=instance_id,
    )


class ConfigReloader:
    """SIGHUP: read the config file again, check it as start-up does, and swap a new router
    into every handler. A bad file keeps the old config and logs why.

    The new router runs on the old one's state wherever the settings it was made from did
    not change (router/state/carry.py): the same store connection, the same token buckets
    (a model at its rpm stays at its rpm), breakers, budget reservations and request-id
    claims. Records in flight finish with the router they began with; then its provider
    clients and cache are closed (`retiring`), not its state. The share of each limit a
    replica takes (without a shared store) carries over; a change of the group's size
    after a reload reaches it at the next restart.

    `make_state(config, store)` makes the state for a new config on the running store
    (None: per process); `make_router(config, state)` the router."""

    def __init__(
        self,
        path: Path,
        users: Sequence[RouterUser],
        router: RoutingEngine,
        *,
        make_state: Callable[[RouterConfig, StateStore | None], RouterState] | None = None,
        make_router: Callable[[RouterConfig, RouterState], RoutingEngine] | None = None,
    ) -> None:
        self.path = path
        self._make_state = make_state or _state_on
        self._make_router = make_router or _router_with
        self._users = list(users)
        self.router = router
        #: replaced routers whose records are still in flight, each closing when idle
        self.retiring: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[bool]] = set()

    def schedule(self) -> None:
        """The SIGHUP handler: reload in the background."""
        task = asyncio.get_running_loop().create_task(self.reload())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def reload(self) -> bool:
        async with self._lock:
            old = self.router
            try:
                config = await asyncio.to_thread(load_config, self.path)
                await check_before_serving(config)
                if (
                    old.state.store is not None
                    and config.defaults.state.redis_url != old.config.defaults.state.redis_url
                ):
                    log.warning("defaults.state.redis_url changed: the store changes at restart")
                fresh = self._make_state(config, old.state.store)
                router = self._make_router(config, carry_over(old.state, old.config, fresh, config))
            except (ConfigError, ValueError, OSError) as exc:
                log.error("config reload rejected; keeping the old config", error=str(exc))
                return False
            # Without a shared store each replica takes its share of the limits; keep it.
            shares = [lim.replicas for lim in old.state.local_limiters.values()]
            router.state.set_replicas(max(shares, default=1))
            if set(config.tasks) != set(old.config.tasks):
                log.warning(
                    "the task set changed: the topics read change at the next restart",
                    tasks=sorted(config.tasks),
                )
            for user in self._users:
                user.router = router
            self.router = router
            task = asyncio.get_running_loop().create_task(_retire(old))
            self.retiring.add(task)
            task.add_done_callback(self.retiring.discard)
            log.info("config reloaded", config=str(self.path), tasks=sorted(config.tasks))
            return True

    async def aclose(self) -> None:
        """Wait for the replaced routers to finish their records and close (the workers
        have drained by now, so none is left waiting long)."""
        if self.retiring:
            await asyncio.gather(*self.retiring, return_exceptions=True)


async def _retire(router: RoutingEngine) -> None:
    await router.idle()
    await router.aclose(keep_state=True)
    log.debug("replaced router closed")


def _state_on(config: RouterConfig, store: StateStore | None) -> RouterState:
    return open_state(config, store=store) if store is not None else local_state(config)


def _router_with(config: RouterConfig, state: RouterState) -> RoutingEngine:
    return RoutingEngine(config, state=state)

"""Budgets while the store is down, on a real redis-server that is stopped and started
again (its data kept on disk): each replica enforces its 1/N share of what was left of
the day, counting its spend locally, the gauge `llmrouter_state_degraded{part="budget"}`
shows it, and the spend counted meanwhile is added to the shared counter when the store
answers again."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from llmrouter.router.config_loader import parse_config
from llmrouter.router.decision import budget_spent
from llmrouter.router.state import StateStore
from llmrouter.router.state.budget import SharedBudget
from llmrouter.router.state.wiring import RouterState, open_state
from llmrouter.workers.metrics import METRICS
from tests.kafka_helpers import free_port
from tests.redis_helpers import _start_node, _wait_for_ping, redis_available

pytestmark = pytest.mark.skipif(not redis_available(), reason="needs redis-server")

CONFIG = """\
version: 1
defaults:
  cache: {enabled: false}
models:
  cheap:
    provider: openai
    model_id: gpt-4o-mini
    input_usd_per_1k: 0.00015
    output_usd_per_1k: 0.0006
tasks:
  qa:
    route: {strategy: static, model: cheap}
    budget: {daily_usd: 0.001, downgrade_to: cheap}
"""


@dataclass
class Node:
    """A redis-server that keeps its data on disk (append-only file) across a restart."""

    port: int
    workdir: str
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        args = ("--appendonly", "yes", "--appendfsync", "always")
        self.proc = await _start_node(self.port, self.workdir, *args)
        await _wait_for_ping(self.port, 10.0)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    with tempfile.TemporaryDirectory(prefix="llmrouter-redis-") as workdir:
        server = Node(free_port(), workdir)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


def replica(url: str, replicas: int) -> RouterState:
    cfg = parse_config(CONFIG)
    store = StateStore.connect(url, prefix="degraded-test", timeout_s=1.0)
    store.retry_after_s = 0.05  # ask the store again soon after it failed
    state = open_state(cfg, store=store)
    state.set_replicas(replicas)  # what workers/group_share.py does for the group's size
    return state


def spent(state: RouterState) -> Decimal:
    return state.budget.snapshot().spent("qa")


def over(state: RouterState) -> bool:
    return budget_spent(parse_config(CONFIG).tasks["qa"], "qa", state.budget.snapshot())


def gauge() -> float | None:
    gc.collect()  # budgets of earlier tests left unclosed leave the gauge once collected
    return METRICS.registry.get_sample_value("llmrouter_state_degraded", {"part": "budget"})


async def pay(state: RouterState, usd: str) -> None:
    held = await state.budget.reserve("qa", Decimal(usd))
    await state.budget.settle(held, Decimal(usd))


async def back(state: RouterState) -> None:
    """Refresh until the budget reaches the store again."""
    budget = state.budget
    assert isinstance(budget, SharedBudget)
    async with asyncio.timeout(30):
        while True:
            await budget.refresh("qa")
            if not budget.degraded:
                return
            await asyncio.sleep(0.05)


async def test_a_store_outage_enforces_each_replicas_share_then_reconciles(node: Node) -> None:
    a, b = replica(node.url, 2), replica(node.url, 2)
    try:
        await pay(a, "0.0001")
        for state in (a, b):
            await state.budget.refresh("qa")
            assert spent(state) == Decimal("0.0001")
        assert gauge() == 0.0

        await node.stop()
        await a.budget.refresh("qa")
        assert isinstance(a.budget, SharedBudget)
        assert a.budget.degraded
        assert gauge() == 1.0
        # 0.0009 was left: each of the two replicas may spend half of it
        await pay(a, "0.0003")
        assert spent(a) == Decimal("0.0007")  # 0.0001 known + 2 x 0.0003 own
        assert not over(a)
        await pay(a, "0.0002")
        assert over(a)  # 0.0001 + 2 x 0.0005: its share is spent, it downgrades
        await pay(b, "0.0001")
        assert spent(b) == Decimal("0.0003")
        assert not over(b)

        await node.start()
        await back(a)
        await back(b)
        assert gauge() == 0.0
        await a.budget.refresh("qa")
        # nothing lost and nothing counted twice: 0.0001 before, 0.0005 + 0.0001 meanwhile
        assert spent(a) == Decimal("0.0007")
        assert not over(a)
    finally:
        for state in (a, b):
            with contextlib.suppress(Exception):
                await state.aclose()


async def test_a_single_replica_keeps_the_whole_remainder(node: Node) -> None:
    solo = replica(node.url, 1)
    try:
        await pay(solo, "0.0004")
        await solo.budget.refresh("qa")
        await node.stop()
        await pay(solo, "0.0005")
        assert spent(solo) == Decimal("0.0009")
        assert not over(solo)
        await pay(solo, "0.0001")
        assert over(solo)
    finally:
        await solo.aclose()

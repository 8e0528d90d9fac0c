"""The shared budget on a real redis-server (and the rebuild on the real broker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.budget import to_micro_usd
from llmrouter.router.state import StateStore
from llmrouter.router.state.budget import SharedBudget, spend_from_costs
from llmrouter.schemas import COSTS_TOPIC, AttemptOutcome, CostEvent, encode


def test_micro_dollars_round_up() -> None:
    assert to_micro_usd(Decimal("0.0000011")) == 2
    assert to_micro_usd(Decimal("1.5")) == 1_500_000
    with pytest.raises(ValueError, match="cost_usd"):
        to_micro_usd(Decimal("-1"), "cost_usd")


async def test_replicas_see_one_counter(state_store: StateStore) -> None:
    a = SharedBudget(state_store, ["qa"])
    b = SharedBudget(state_store, ["qa"], refresh_interval_s=0.1)
    held = await a.reserve("qa", Decimal("0.50"))
    await b.refresh("qa")
    assert b.snapshot().spent("qa") == Decimal("0.5")  # in flight counts at worst case
    await a.settle(held, Decimal("0.125"))
    await asyncio.sleep(0.11)  # past the refresh interval (a cache, not synchronisation)
    await b.refresh("qa")
    assert b.snapshot().spent("qa") == Decimal("0.125")
    # A task with no budget costs no round trip and is not counted.
    await a.settle(await a.reserve("other", Decimal(1)), Decimal(1))
    assert a.snapshot().spent("other") == Decimal(0)


async def test_concurrent_reservations_are_exact(state_store: StateStore) -> None:
    replicas = [SharedBudget(state_store, ["qa"]) for _ in range(3)]

    async def one_call(budget: SharedBudget) -> None:
        held = await budget.reserve("qa", Decimal("0.010"))
        await budget.settle(held, Decimal("0.003"))

    await asyncio.gather(*(one_call(replicas[i % 3]) for i in range(300)))
    raw = await state_store.run(lambda c: c.get(state_store.key("budget", _today(), "spent", "qa")))
    assert int(raw) == 300 * 3000


async def test_one_replica_rebuilds_an_empty_day(state_store: StateStore) -> None:
    calls: list[date] = []

    async def rebuild(day: date, tasks: frozenset[str]) -> dict[str, int]:
        calls.append(day)
        await asyncio.sleep(0.2)  # the others must wait for it, not count from zero
        return {"qa": 7_000_000}

    replicas = [SharedBudget(state_store, ["qa"], rebuild=rebuild) for _ in range(3)]
    await asyncio.gather(*(r.refresh("qa") for r in replicas))
    assert len(calls) == 1
    assert [r.snapshot().spent("qa") for r in replicas] == [Decimal(7)] * 3
    # After a flush the first replica to look rebuilds again.
    keys = [k async for k in state_store.client.scan_iter(state_store.key("*"))]
    await state_store.client.delete(*keys)
    fresh = SharedBudget(state_store, ["qa"], rebuild=rebuild)
    await fresh.refresh("qa")
    assert len(calls) == 2
    assert fresh.snapshot().spent("qa") == Decimal(7)


async def test_a_running_replica_notices_the_store_lost_the_day(state_store: StateStore) -> None:
    calls: list[date] = []

    async def rebuild(day: date, tasks: frozenset[str]) -> dict[str, int]:
        calls.append(day)
        return {"qa": 7_000_000}

    live = SharedBudget(state_store, ["qa"], rebuild=rebuild)
    await live.refresh("qa")
    keys = [k async for k in state_store.client.scan_iter(state_store.key("*"))]
    await state_store.client.delete(*keys)  # flushed (or failed over) under a live replica
    await live.refresh("qa")
    assert len(calls) == 2
    assert live.snapshot().spent("qa") == Decimal(7)


@pytest.mark.kafka
async def test_spend_is_rebuilt_from_todays_cost_events(kafka_bootstrap: str) -> None:
    task = f"budget-{datetime.now(UTC).strftime('%H%M%S%f')}"
    await ensure_topics(kafka_bootstrap, [COSTS_TOPIC], partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i, cost in enumerate(["0.001", "0.0025", "0.0000001"]):
            event = CostEvent(
                request_id=f"r{i}",
                task=task,
                attempt=0,
                model="cheap",
                model_version="m",
                provider="openai",
                input_tokens=1,
                output_tokens=1,
                cost_usd=Decimal(cost),
                cached=False,
                outcome=AttemptOutcome.OK,
            )
            await producer.send_and_wait(COSTS_TOPIC, encode(event), key=f"r{i}".encode())
    finally:
        await producer.stop()
    spent = await spend_from_costs(
        KafkaSettings(bootstrap_servers=kafka_bootstrap),
        datetime.now(UTC).date(),
        frozenset({task, "absent"}),
    )
    assert spent == {task: 1000 + 2500 + 1, "absent": 0}


def _today() -> str:
    return datetime.now(UTC).date().isoformat()

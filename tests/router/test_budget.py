from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from llmrouter.router.budget import BudgetState, BudgetTracker


class FakeNow:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def now() -> FakeNow:
    return FakeNow(datetime(2024, 5, 1, 12, 0, tzinfo=UTC))


def test_add_is_exact_and_per_task(now: FakeNow) -> None:
    tracker = BudgetTracker(now=now)
    for _ in range(3):
        tracker.add("support", Decimal("0.1"))
    tracker.add("summarise", Decimal("2.5"))
    assert tracker.spent_today("support") == Decimal("0.3")
    assert tracker.spent_today("summarise") == Decimal("2.5")
    assert tracker.spent_today("other") == Decimal(0)


def test_snapshot_is_an_immutable_copy(now: FakeNow) -> None:
    tracker = BudgetTracker(now=now)
    tracker.add("support", Decimal("1.25"))
    state = tracker.snapshot()
    tracker.add("support", Decimal(1))

    assert state.spent("support") == Decimal("1.25")
    assert state.spent("unknown") == Decimal(0)
    assert state.day == now.moment.date()
    with pytest.raises(TypeError):
        state.spent_usd["support"] = Decimal(0)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.day = now.moment.date()  # type: ignore[misc]


def test_resets_at_utc_midnight(now: FakeNow) -> None:
    now.moment = datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC)
    tracker = BudgetTracker(now=now)
    tracker.add("support", Decimal(5))
    now.moment += timedelta(seconds=1)
    assert tracker.spent_today("support") == Decimal(0)
    assert tracker.snapshot() == BudgetState(day=now.moment.date())


def test_midnight_is_utc_not_local(now: FakeNow) -> None:
    new_york = timezone(timedelta(hours=-5))
    now.moment = datetime(2024, 5, 1, 18, 0, tzinfo=new_york)  # 23:00 UTC
    tracker = BudgetTracker(now=now)
    tracker.add("support", Decimal(5))
    now.moment = datetime(2024, 5, 1, 19, 30, tzinfo=new_york)  # 00:30 UTC, next day
    assert tracker.spent_today("support") == Decimal(0)


def test_seed_sets_todays_spend(now: FakeNow) -> None:
    tracker = BudgetTracker(now=now)
    tracker.seed("support", Decimal("7.10"))
    tracker.add("support", Decimal("0.05"))
    assert tracker.snapshot().spent("support") == Decimal("7.15")


def test_rejects_negative_costs_and_naive_clocks(now: FakeNow) -> None:
    tracker = BudgetTracker(now=now)
    with pytest.raises(ValueError, match="cost_usd"):
        tracker.add("support", Decimal("-0.01"))
    with pytest.raises(ValueError, match="spent"):
        tracker.seed("support", Decimal(-1))
    with pytest.raises(ValueError, match="timezone-aware"):
        BudgetTracker(now=lambda: datetime(2024, 5, 1, 12, 0))

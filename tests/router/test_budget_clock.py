"""The per-process budget on the system clock: it asks for the date only once its day may
have ended, and still starts a new day at UTC midnight."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from llmrouter.router.budget import BudgetTracker


def test_a_tracker_on_the_system_clock_starts_a_new_day_after_utc_midnight() -> None:
    tracker = BudgetTracker()
    tracker.add("support", Decimal("1.5"))
    today = tracker.snapshot().day
    assert tracker.spent_today("support") == Decimal("1.5")
    # the same tracker as if its spend had been counted yesterday: past the day's end now
    yesterday = today - timedelta(days=1)
    tracker._day, tracker._day_ends_at = yesterday, BudgetTracker._end_of(yesterday)
    assert tracker.spent_today("support") == 0
    assert tracker.snapshot().day == today


def test_a_snapshot_reads_the_spend_as_it_was_taken() -> None:
    tracker = BudgetTracker()
    tracker.add("support", Decimal("0.000001"))
    snapshot = tracker.snapshot()
    tracker.add("support", Decimal("2"))
    assert snapshot.spent("support") == Decimal("0.000001")
    assert snapshot.spent("other") == 0
    assert dict(snapshot.spent_usd) == {"support": Decimal("0.000001")}

"""Daily spend per task, in exact decimal USD, for budget downgrades.

Per process: each replica counts only the calls it made. On start the routing worker
seeds the tracker from the day's cost events (`seed`), so a restart does not forget
what was already spent; replicas still see only their own live spend between restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType

__all__ = ["BudgetState", "BudgetTracker"]

_ZERO = Decimal(0)


@dataclass(frozen=True)
class BudgetState:
    """An immutable view of one UTC day's spend, for the pure routing decision."""

    day: date
    spent_usd: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def spent(self, task: str) -> Decimal:
        return self.spent_usd.get(task, _ZERO)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BudgetTracker:
    """Spend per task for the current UTC day; everything resets at UTC midnight."""

    def __init__(self, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._now = now
        self._day = self._today()
        self._spent: dict[str, Decimal] = {}

    def _today(self) -> date:
        moment = self._now()
        if moment.tzinfo is None:
            # A naive time would be read as local time, moving "midnight" off UTC.
            raise ValueError("now() must return a timezone-aware datetime")
        return moment.astimezone(UTC).date()

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._spent.clear()

    def add(self, task: str, cost_usd: Decimal) -> None:
        if cost_usd < 0:
            raise ValueError(f"cost_usd must be >= 0, got {cost_usd}")
        self._roll()
        self._spent[task] = self._spent.get(task, _ZERO) + cost_usd

    def seed(self, task: str, spent: Decimal) -> None:
        """Set today's spend for `task` (from replayed cost events) before live traffic."""
        if spent < 0:
            raise ValueError(f"spent must be >= 0, got {spent}")
        self._roll()
        self._spent[task] = spent

    def spent_today(self, task: str) -> Decimal:
        self._roll()
        return self._spent.get(task, _ZERO)

    def snapshot(self) -> BudgetState:
        self._roll()
        return BudgetState(day=self._day, spent_usd=MappingProxyType(dict(self._spent)))

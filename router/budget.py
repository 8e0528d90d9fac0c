"""Daily spend per task for budget downgrades: the interface and its per-process form.

A call reserves its worst-case cost before it starts and settles to the real cost after,
so spend counts the calls in flight and the downgrade applies before they overshoot.
Amounts are exact integer micro-dollars (`to_micro_usd` rounds up: a budget never
under-counts).

`BudgetTracker` is per process: each replica counts only its own calls, and a restart
forgets the day unless it is seeded (`seed`). `router/state/budget.py` is the form shared
by every replica through the store, rebuilt from `llm.costs` when the store is empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType
from typing import Protocol

from llmrouter.schemas import utc_now

__all__ = [
    "Budget",
    "BudgetState",
    "BudgetTracker",
    "Reservation",
    "from_micro_usd",
    "to_micro_usd",
    "utc_today",
]

_ZERO = Decimal(0)
_MICRO = Decimal(1_000_000)


def to_micro_usd(usd: Decimal, name: str = "amount") -> int:
    """Whole micro-dollars, rounded up."""
    if usd < 0:
        raise ValueError(f"{name} must be >= 0, got {usd}")
    return int((usd * _MICRO).to_integral_value(rounding=ROUND_CEILING))


def from_micro_usd(micro_usd: int) -> Decimal:
    return Decimal(micro_usd) / _MICRO


@dataclass(frozen=True)
class BudgetState:
    """An immutable view of one UTC day's spend, for the pure routing decision."""

    day: date
    spent_usd: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    def spent(self, task: str) -> Decimal:
        return self.spent_usd.get(task, _ZERO)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A call's worst-case cost, held against `task`'s spend of `day` until settled."""

    task: str
    day: date
    micro_usd: int


class Budget(Protocol):
    """What the router needs of a spend counter, per process or shared."""

    async def refresh(self, task: str) -> None:
        """Bring `task`'s spend up to date before a routing decision."""

    def snapshot(self) -> BudgetState: ...

    async def reserve(self, task: str, worst_case_usd: Decimal) -> Reservation: ...

    async def settle(self, reservation: Reservation, cost_usd: Decimal) -> None: ...

    async def aclose(self) -> None: ...


class _SpentView(Mapping[str, Decimal]):
    """A day's spend per task in USD over a copy of its micro-dollar counts, converted as
    it is read (a routing decision reads one task's, if any): read-only."""

    __slots__ = ("_micro",)

    def __init__(self, micro: dict[str, int]) -> None:
        self._micro = micro

    def __getitem__(self, task: str) -> Decimal:
        return from_micro_usd(self._micro[task])

    def __iter__(self) -> Iterator[str]:
        return iter(self._micro)

    def __len__(self) -> int:
        return len(self._micro)


def utc_today(now: Callable[[], datetime] = utc_now) -> date:
    moment = now()
    if moment.tzinfo is None:
        # A naive time would be read as local time, moving "midnight" off UTC.
        raise ValueError("now() must return a timezone-aware datetime")
    return moment.astimezone(UTC).date()


class BudgetTracker:
    """Spend per task for the current UTC day, in this process; resets at UTC midnight."""

    def __init__(self, *, now: Callable[[], datetime] = utc_now) -> None:
        self._now = now
        self._day = self._today()
        self._spent: dict[str, int] = {}  # micro-dollars
        #: on the system clock (`now` the default), the day cannot end before this time
        #: (seconds since the epoch): a call before it needs no date (four per request)
        self._day_ends_at = self._end_of(self._day) if now is utc_now else 0.0

    def _today(self) -> date:
        return utc_today(self._now)

    @staticmethod
    def _end_of(day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86_400

    def _roll(self) -> None:
        if time.time() < self._day_ends_at:
            return
        today = self._today()
        if today != self._day:
            self._day = today
            self._spent.clear()
            if self._now is utc_now:
                self._day_ends_at = self._end_of(today)

    def add(self, task: str, cost_usd: Decimal) -> None:
        self._roll()
        self._spent[task] = self._spent.get(task, 0) + to_micro_usd(cost_usd, "cost_usd")

    def seed(self, task: str, spent: Decimal) -> None:
        """Set today's spend for `task` (from replayed cost events) before live traffic."""
        self._roll()
        self._spent[task] = to_micro_usd(spent, "spent")

    def spent_today(self, task: str) -> Decimal:
        self._roll()
        return from_micro_usd(self._spent.get(task, 0))

    def snapshot(self) -> BudgetState:
        self._roll()
        return BudgetState(day=self._day, spent_usd=_SpentView(dict(self._spent)))

    async def refresh(self, task: str) -> None:
        self._roll()

    async def reserve(self, task: str, worst_case_usd: Decimal) -> Reservation:
        self._roll()
        micro = to_micro_usd(worst_case_usd, "worst_case_usd")
        self._spent[task] = self._spent.get(task, 0) + micro
        return Reservation(task, self._day, micro)

    async def settle(self, reservation: Reservation, cost_usd: Decimal) -> None:
        self._roll()
        if reservation.day != self._day:
            return  # yesterday's call: today's count starts from zero
        delta = to_micro_usd(cost_usd, "cost_usd") - reservation.micro_usd
        self._spent[reservation.task] = max(0, self._spent.get(reservation.task, 0) + delta)

    async def aclose(self) -> None:
        return None

"""One spend counter per task and UTC day, shared by every replica through the store.

`budget:{<day>}:spent:<task>` holds exact integer micro-dollars. A call reserves its worst-case
cost (INCRBY) before it starts and settles the difference to its real cost after, so
replicas deciding at the same moment overshoot by at most the calls already in flight.

When the day's counters are missing (a new day, a flushed store) the first replica to
claim `budget:{<day>}:rebuilt` (SET NX) adds today's committed `llm.costs` events back;
the others wait for it (bounded), so none routes on a counter that forgot the day. Every
refresh reads that marker with the counter (one MGET): a store that lost the day while a
replica ran, or a rebuilder that died, is noticed by the next decision. The hash tag
`{<day>}` keeps a day's counters and its marker in one slot of a Redis Cluster.

While the store cannot be reached the budget degrades to a local share, by the rule the
rate limits use: each of the N replicas of the routing group (workers/group_share.py)
may spend 1/N of what was left of the day when it last read the counter. A replica counts
its spend meanwhile and sees `last known spend + N × its own spend since`, so the fleet
downgrades once the remainder is spent however the work is spread (a replica that never
read the day counts from zero). The spend counted meanwhile is added to the counters when
the store answers again; if the store lost the day meanwhile, the rebuild from `llm.costs`
holds it instead. A write whose answer was lost may be counted twice: the budget errs
towards spending less, never more. `DEGRADED` (the gauge
`llmrouter_state_degraded{part="budget"}`) holds the budgets in that mode.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import structlog

from llmrouter.core.errors import InvalidMessage, KafkaUnavailable, StateStoreError
from llmrouter.kafkaio.reading import read_records, reader, time_spans, to_ms, topic_partitions
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.budget import (
    BudgetState,
    Reservation,
    from_micro_usd,
    to_micro_usd,
    utc_today,
)
from llmrouter.router.state.store import StateStore
from llmrouter.schemas import COSTS_TOPIC, CostEvent, decode, utc_now

__all__ = ["DEGRADED", "Rebuild", "SharedBudget", "spend_from_costs"]

log = structlog.get_logger("llmrouter.state")

#: computes a day's spend per task in micro-dollars from the record of what was spent
Rebuild = Callable[[date, frozenset[str]], Awaitable[Mapping[str, int]]]

_KEEP_S = 3 * 86400  # counters outlive their day a little, for late settles and reports
_BUILDING_S = 120  # a rebuilder that died frees the claim after this long
_WAIT_FOR_REBUILD_S = 60.0

#: the shared budgets of this process that cannot reach the store (a metric)
DEGRADED: weakref.WeakSet[SharedBudget] = weakref.WeakSet()

_ADD = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return total
"""


# KEYS[1] the day's counter, KEYS[2] the charge's mark: add ARGV[1] once per mark.
_ADD_ONCE = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class SharedBudget:
    """The `Budget` of router/budget.py, shared through `store`.

    `tasks` are the tasks with a budget; every other task costs no round trip.
    `refresh_interval_s` bounds how stale a replica's view of another's spend may be
    (0: every decision reads the counter, one GET, so the overshoot bound holds).
    """

    def __init__(
        self,
        store: StateStore,
        tasks: Iterable[str],
        *,
        rebuild: Rebuild | None = None,
        refresh_interval_s: float = 0.0,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._tasks = frozenset(tasks)
        self._rebuild = rebuild
        self._refresh_interval_s = refresh_interval_s
        self._now = now
        self._add = store.script(_ADD)
        self._add_once = store.script(_ADD_ONCE)
        self._day = utc_today(now)
        self._spent: dict[str, int] = {}
        self._fetched_at: dict[str, float] = {}
        self._rebuilt_day: date | None = None
        self._rebuild_lock = asyncio.Lock()
        #: the routing group's size: while degraded, this replica's share is 1/replicas
        self._replicas = 1
        #: spend counted while the store was down: per task today, and not yet in the store
        self._local: dict[str, int] = {}
        self._unsynced: dict[tuple[date, str], int] = {}

    @property
    def degraded(self) -> bool:
        """True while the store cannot be reached: the local share is enforced."""
        return self in DEGRADED

    def set_replicas(self, replicas: int) -> None:
        """The routing group's size, for the local share while the store is down."""
        self._replicas = max(1, replicas)

    def _key(self, day: date, task: str) -> str:
        # under "spent:", so no task name (even one called "rebuilt") meets the marker
        return self._store.key("budget", day.isoformat(), "spent", task)

    def _marker(self, day: date) -> str:
        return self._store.key("budget", day.isoformat(), "rebuilt")

    def _roll(self) -> date:
        today = utc_today(self._now)
        if today != self._day:
            self._day = today
            self._spent.clear()
            self._fetched_at.clear()
            self._local.clear()
        return today

    def snapshot(self) -> BudgetState:
        self._roll()
        spent = {
            task: from_micro_usd(self._seen(task)) for task in self._spent.keys() | self._local
        }
        return BudgetState(day=self._day, spent_usd=spent)

    def _seen(self, task: str) -> int:
        """The spend a decision sees: the store's, or while degraded the last known spend
        plus this replica's own since, times the replicas sharing what was left."""
        known = self._spent.get(task, 0)
        if not self.degraded:
            return known
        return max(known, known + self._replicas * self._local.get(task, 0))

    async def refresh(self, task: str) -> None:
        if task not in self._tasks:
            return
        day = self._roll()
        now = time.monotonic()
        if now - self._fetched_at.get(task, -1e9) < self._refresh_interval_s:
            return
        marker = self._marker(day)
        try:
            await self._ensure_rebuilt(day)
            raw, done = await self._store.run(lambda c: c.mget([self._key(day, task), marker]))
            if done is None:  # the store lost the day since (flushed, failed over): rebuild
                self._forget_unsynced(day)
                self._rebuilt_day = None
                await self._ensure_rebuilt(day)
            if done is None or self._unsynced:
                await self._reconcile()
                raw = await self._store.run(lambda c: c.get(self._key(day, task)))
        except StateStoreError as exc:
            self._degrade(exc)
            return
        self._recovered()
        self._spent[task] = int(raw or 0)
        self._fetched_at[task] = now

    async def reserve(self, task: str, worst_case_usd: Decimal) -> Reservation:
        day = self._roll()
        micro = to_micro_usd(worst_case_usd, "worst_case_usd")
        if task not in self._tasks:
            return Reservation(task, day, micro)
        await self._apply(day, task, micro)
        return Reservation(task, day, micro)

    async def settle(self, reservation: Reservation, cost_usd: Decimal) -> None:
        if reservation.task not in self._tasks:
            return
        delta = to_micro_usd(cost_usd, "cost_usd") - reservation.micro_usd
        if delta:
            await self._apply(reservation.day, reservation.task, delta)

    async def charge_once(self, task: str, charge_id: str, cost_usd: Decimal) -> bool:
        """Add a cost paid outside `reserve`/`settle` (a batch job's answer) to today's
        spend, once per `charge_id` however often it is charged; False when it was charged
        before. While the store cannot be reached it is counted as a call's cost is (and
        may then be counted twice: never less)."""
        day = self._roll()
        if task not in self._tasks:
            return False
        micro = to_micro_usd(cost_usd, "cost_usd")
        # beside the day's counter (one hash slot), under "charged:", apart from "spent:"
        mark = self._store.key("budget", day.isoformat(), "charged", task, charge_id)
        try:
            if self._unsynced:
                await self._reconcile()
            added = await self._add_once([self._key(day, task), mark], [micro, _KEEP_S])
        except StateStoreError:
            await self._apply(day, task, micro)  # degrades: counted locally meanwhile
            return True
        self._recovered()
        self._fetched_at.pop(task, None)  # the next refresh reads the counter
        return bool(added)

    async def _apply(self, day: date, task: str, delta_micro: int) -> None:
        try:
            if self._unsynced:
                await self._reconcile()
            total = await self._add([self._key(day, task)], [delta_micro, _KEEP_S])
        except StateStoreError as exc:
            # Counted here until the store answers again (and recorded on llm.costs).
            # Failing the request would lose an answer already paid for.
            self._degrade(exc)
            self._unsynced[(day, task)] = self._unsynced.get((day, task), 0) + delta_micro
            if day == self._day:
                self._local[task] = self._local.get(task, 0) + delta_micro
            return
        self._recovered()
        if day == self._day:
            self._spent[task] = int(total)
            self._fetched_at[task] = time.monotonic()

    async def _reconcile(self) -> None:
        """Add the spend counted while the store was down to its counters."""
        for (day, task), delta in list(self._unsynced.items()):
            if delta:
                await self._add([self._key(day, task)], [delta, _KEEP_S])
            del self._unsynced[(day, task)]

    def _forget_unsynced(self, day: date) -> None:
        """The day is being rebuilt from llm.costs, which holds what was counted meanwhile."""
        if self._rebuild is None:
            return
        for key in [k for k in self._unsynced if k[0] == day]:
            del self._unsynced[key]

    def _degrade(self, exc: StateStoreError) -> None:
        if self.degraded:
            return
        DEGRADED.add(self)
        log.warning(
            "budget store unreachable: this replica enforces its share of the day's remainder",
            share=f"1/{self._replicas}",
            error=str(exc),
        )

    def _recovered(self) -> None:
        if not self.degraded or self._unsynced:
            return
        DEGRADED.discard(self)
        self._local.clear()
        log.info("budget store reachable again: the spend counted meanwhile is in it")

    async def _ensure_rebuilt(self, day: date) -> None:
        if self._rebuilt_day == day:
            return
        async with self._rebuild_lock:
            if self._rebuilt_day == day:
                return
            marker = self._marker(day)
            claimed = await self._store.run(
                lambda c: c.set(marker, b"building", nx=True, ex=_BUILDING_S)
            )
            if claimed:
                await self._rebuild_day(day, marker)
            else:
                await self._wait_for_rebuild(marker)
            self._rebuilt_day = day

    async def _rebuild_day(self, day: date, marker: str) -> None:
        spent: Mapping[str, int] = {}
        if self._rebuild is not None:
            try:
                spent = await self._rebuild(day, self._tasks)
            except KafkaUnavailable as exc:
                log.warning("budget rebuild from llm.costs failed", error=str(exc))
                await self._store.run(lambda c: c.delete(marker))
                raise StateStoreError("budget rebuild failed; will retry") from None
        self._forget_unsynced(day)
        for task, micro in spent.items():
            if micro:
                await self._add([self._key(day, task)], [micro, _KEEP_S])
        await self._store.run(lambda c: c.set(marker, b"done", ex=_KEEP_S))
        log.info(
            "budget counters rebuilt from llm.costs",
            day=day.isoformat(),
            spent_usd={t: format(from_micro_usd(m), "f") for t, m in spent.items()},
        )

    async def _wait_for_rebuild(self, marker: str) -> None:
        deadline = time.monotonic() + _WAIT_FOR_REBUILD_S
        delay_s = 0.05
        while time.monotonic() < deadline:
            state = await self._store.run(lambda c: c.get(marker))
            if state != b"building":
                return  # done, or the rebuilder died and the next refresh claims it
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 1.0)

    async def aclose(self) -> None:
        DEGRADED.discard(self)


async def spend_from_costs(
    kafka: KafkaSettings, day: date, tasks: frozenset[str]
) -> dict[str, int]:
    """Micro-dollars spent per task on `day` (UTC), from the committed `llm.costs` events."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    # Producers may stamp a record a little before the event's own time: read from a minute
    # before midnight and keep the events of `day` by their own timestamp.
    since_ms = to_ms(start - timedelta(minutes=1))
    spent: dict[str, int] = dict.fromkeys(tasks, 0)
    async with reader(kafka) as consumer:
        partitions = await topic_partitions(consumer, COSTS_TOPIC)
        spans = await time_spans(consumer, partitions, since_ms, None)
        async for record in read_records(consumer, spans):
            try:
                event = decode(record.value, CostEvent)
            except InvalidMessage:
                continue
            # a shadow call (workers/quality/) is on the shadow budget, never the task's
            if event.shadow:
                continue
            if event.task in spent and event.ts.astimezone(UTC).date() == day:
                spent[event.task] += to_micro_usd(event.cost_usd, "cost_usd")
    return spent

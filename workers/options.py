"""What a worker runs with: its options, its statistics, and the shapes of a handler,
an error policy and an output (workers/runtime.py runs them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.workers.done_offsets import DEFAULT_LIMIT

__all__ = ["ErrorPolicy", "Handler", "Output", "RuntimeStats", "WorkerOptions"]


Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[Sequence[Output]]]
ErrorPolicy = Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    group_id: str
    pattern: str
    transactional_id: str
    #: records being processed at once; a slow LLM call is mostly waiting, so thousands
    #: fit in a few tens of MiB. Fetching pauses when full (and when too many records
    #: wait behind a stuck one: `max_tracked`), so memory stays bounded if providers stall.
    max_in_flight: int = 4096
    flush_interval_s: float = 0.02
    grace_s: float = 30.0
    rebalance_grace_s: float = 5.0
    #: how soon topics created later are noticed by the pattern subscription
    metadata_max_age_ms: int = 30_000
    #: an open transaction of a crashed process blocks read_committed readers this long
    #: (unless a process with the same transactional_id starts and fences it at once)
    transaction_timeout_ms: int = 15_000
    #: records taken per fetch; small, so a burst of new work never starves the loop
    max_poll_records: int = 100
    session_timeout_ms: int = 10_000
    #: Kafka's offset.metadata.max.bytes: the done-offsets record must fit in it
    offset_metadata_max_bytes: int = DEFAULT_LIMIT
    #: how long a partition handed over waits for the previous owner's commit to settle
    stable_offsets_timeout_s: float = 120.0

    @property
    def max_tracked(self) -> int:
        return 8 * self.max_in_flight


@dataclass
class RuntimeStats:
    processed: int = 0
    committed: int = 0
    transactions: int = 0
    failed_transactions: int = 0
    #: records a previous owner had published already, skipped on assignment
    skipped: int = 0
    #: time from a record finishing to its outputs being committed, s
    hold_s: list[float] = field(default_factory=list)

    def record_hold(self, values: list[float]) -> None:
        self.hold_s.extend(values)
        if len(self.hold_s) > 100_000:
            del self.hold_s[: len(self.hold_s) - 50_000]

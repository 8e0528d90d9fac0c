"""What a worker runs with: its name, group, subscription, transactional id and limits."""

from __future__ import annotations

from dataclasses import dataclass

from llmrouter.runtime.done_offsets import DEFAULT_LIMIT

__all__ = ["WorkerOptions"]


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    group_id: str
    pattern: str
    transactional_id: str
    #: records being processed at once; a slow LLM call is mostly waiting, so thousands
    #: fit in a few tens of MiB. Fetching pauses when full (and when too many records
    #: wait behind a stuck one: `max_tracked`), so memory stays bounded if providers stall.
    #: With lanes (runtime/lanes.py) each lane gets a share of it and pauses alone.
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
    #: a fetch answers once this much is ready, or after `fetch_max_wait_ms` (Kafka's
    #: fetch.min.bytes and fetch.max.wait.ms): 1 answers as soon as anything is. A reader
    #: that tolerates latency asks for more, and so fetches (and wakes) far less often.
    fetch_min_bytes: int = 1
    fetch_max_wait_ms: int = 500
    session_timeout_ms: int = 10_000
    #: Kafka's offset.metadata.max.bytes: the done-offsets record must fit in it
    offset_metadata_max_bytes: int = DEFAULT_LIMIT
    #: how long a partition handed over waits for the previous owner's commit to settle
    stable_offsets_timeout_s: float = 120.0
    #: other groups that may have read the same partitions (another path to the same
    #: records): a partition starts past the furthest offset committed by its own group or
    #: any of these, so records another group finished are not read again
    peer_groups: tuple[str, ...] = ()

    @property
    def max_tracked(self) -> int:
        return 8 * self.max_in_flight

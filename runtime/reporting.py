"""What the runtime reports as it runs, to whatever the worker's owner exports it with.

A worker process hands its Prometheus metrics in (they implement `RuntimeMetrics`); a
test hands in nothing and gets `NO_METRICS`, which records nothing.
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["NO_METRICS", "NoMetrics", "RuntimeMetrics", "TransactionOutcome", "UnpublishedReason"]

#: how a transaction ended: committed; failed (kept its outputs, retried); timed_out
#: (aborted by the coordinator, retried); fenced_retry (fenced with no other holder of
#: the transactional id, retried)
TransactionOutcome = Literal["committed", "failed", "timed_out", "fenced_retry"]

#: why a finished record's error outputs were not published: the error policy raised
#: (the record finished with none), or an output of it was too large to send
UnpublishedReason = Literal["error_policy_failed", "too_large"]


class RuntimeMetrics(Protocol):
    def count_transaction(self, worker: str, outcome: TransactionOutcome) -> None:
        """One transaction of `worker` ended with `outcome`."""

    def count_results_held(self, worker: str, records: int) -> None:
        """A plan held back `records` finished records: the done-offsets record was full."""

    def count_skipped_done(self, worker: str, records: int) -> None:
        """`records` fetched records were skipped: a previous owner had published them."""

    def count_unpublished(self, worker: str, reason: UnpublishedReason, outputs: int) -> None:
        """A record finished without `outputs` of its error outputs, for `reason`."""


class NoMetrics:
    """Records nothing."""

    def count_transaction(self, worker: str, outcome: TransactionOutcome) -> None:
        pass

    def count_results_held(self, worker: str, records: int) -> None:
        pass

    def count_skipped_done(self, worker: str, records: int) -> None:
        pass

    def count_unpublished(self, worker: str, reason: UnpublishedReason, outputs: int) -> None:
        pass


NO_METRICS = NoMetrics()

"""What a worker counts as it runs: records processed, committed and skipped, and how long
finished records waited for their transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RuntimeStats"]


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

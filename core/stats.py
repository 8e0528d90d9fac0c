"""The one percentile used by reports, evaluations, replays and benchmarks."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["percentile"]


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): the smallest value with at least q% of the
    values at or below it; None when there are no values. P95 of 1..100 is 95.

    The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from bumping the rank.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    rank = math.ceil(q * len(ordered) / 100 - 1e-9)
    return ordered[min(max(rank, 1), len(ordered)) - 1]

"""Lanes: shares of a worker's `max_in_flight`, so one busy lane cannot starve the others.

The worker hands the runtime a lane function (topic -> lane name) and a weight per lane;
the runtime knows nothing of what a lane means (the workers make each task a lane).

Every lane with an assigned partition gets a share of `max_in_flight` by weight (missing
weights count 1). The pool is work-conserving: a lane may borrow what the other lanes do
not use, but each other lane keeps a reserve — what it uses plus a headroom of a fraction
of its share (`reserve_fraction`), up to its whole share — so a lane that wakes up starts
its first records at once, and then takes back the rest of its share as the borrower's
records finish. A lane at its cap pauses only its own partitions; the others keep fetching.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["ONE_LANE", "LaneCaps", "Lanes", "lane_caps"]


def _one_lane(topic: str) -> str:
    return ""


@dataclass(frozen=True)
class Lanes:
    """How a worker's topics are grouped into lanes, and each lane's weight."""

    #: topic -> lane name
    of: Callable[[str], str] = _one_lane
    #: lane -> weight (> 0); a lane not named weighs `default_weight`
    weights: Mapping[str, float] = field(default_factory=dict)
    default_weight: float = 1.0
    #: the part of its share a lane keeps free for itself while another lane borrows
    reserve_fraction: float = 0.125

    def __post_init__(self) -> None:
        bad = {lane: w for lane, w in self.weights.items() if not w > 0}
        if bad or not self.default_weight > 0:
            raise ValueError(f"lane weights must be > 0, got {bad or self.default_weight}")
        if not 0 <= self.reserve_fraction <= 1:
            raise ValueError(f"reserve_fraction must be in [0, 1], got {self.reserve_fraction}")

    def weight(self, lane: str) -> float:
        return self.weights.get(lane, self.default_weight)


#: every topic in one lane: the whole pool is one share (the runtime's behaviour without lanes)
ONE_LANE = Lanes()


@dataclass(frozen=True)
class LaneCaps:
    """Per lane: its share of the pool, the most it may hold now (share + borrowed), and
    the headroom it keeps while another lane borrows."""

    shares: dict[str, int]
    caps: dict[str, int]
    headroom: dict[str, int]


def lane_caps(
    lanes: Lanes, total: int, busy: Mapping[str, int], present: Iterable[str]
) -> LaneCaps:
    """The shares and caps of the lanes `present` (those with an assigned partition) given
    what each holds now (`busy`) in a pool of `total`.

    share = total * weight / sum of weights (at least 1); reserve of a lane = min(share,
    busy + headroom), headroom = ceil(share * reserve_fraction) (at least 1); cap of a
    lane = total - the reserves of the others, never below its own share.
    """
    names = set(present) | {lane for lane, n in busy.items() if n > 0}
    if not names:
        return LaneCaps({}, {}, {})
    weight_sum = sum(lanes.weight(lane) for lane in names)
    shares = {lane: max(1, int(total * lanes.weight(lane) / weight_sum)) for lane in names}
    headroom = {
        lane: max(1, math.ceil(share * lanes.reserve_fraction)) for lane, share in shares.items()
    }
    reserves = {
        lane: min(share, busy.get(lane, 0) + headroom[lane]) for lane, share in shares.items()
    }
    reserved = sum(reserves.values())
    caps = {lane: max(shares[lane], total - (reserved - reserves[lane])) for lane in names}
    return LaneCaps(shares, caps, headroom)

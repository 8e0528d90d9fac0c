"""The routing metrics of the literature, on plain lists of points.

- AIQ (RouterBench): the area under the router's non-decreasing convex hull of
  (cost, quality) points between the cheapest and the dearest single model's cost, divided
  by that cost range. Left of the router's cheapest point the hull is held at that
  point's quality; right of its dearest, at its best quality (spending more never hurts).
- PGR (RouteLLM): (quality − weak quality) / (strong quality − weak quality) at a share of
  calls sent to the strong model; APGR is its area over shares 0..1 (trapezoids); CPT(x)
  is the smallest share of strong calls at which PGR reaches x.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

__all__ = [
    "Point",
    "aiq",
    "apgr",
    "cost_to_reach",
    "cpt",
    "hull",
    "pgr",
    "quality_at",
    "share_to_reach",
]

#: (cost or share of strong calls, quality)
Point = tuple[float, float]


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull(points: Sequence[Point]) -> list[Point]:
    """The non-decreasing upper convex hull, left to right: what a mix of the router's
    operating points can reach at each cost."""
    ordered = sorted(set(points), key=lambda p: (p[0], -p[1]))
    if not ordered:
        return []
    rising: list[Point] = []
    for point in ordered:  # drop points a cheaper point already beats
        if not rising or point[1] > rising[-1][1]:
            rising.append(point)
    upper: list[Point] = []
    for point in rising:
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], point) >= 0:
            upper.pop()
        upper.append(point)
    return upper


def quality_at(front: Sequence[Point], cost: float) -> float:
    """The hull's quality at `cost`, held flat beyond its ends."""
    if cost <= front[0][0]:
        return front[0][1]
    for (c0, q0), (c1, q1) in itertools.pairwise(front):
        if cost <= c1:
            return q0 + (q1 - q0) * (cost - c0) / (c1 - c0)
    return front[-1][1]


def cost_to_reach(front: Sequence[Point], quality: float) -> float | None:
    """The lowest cost at which the hull reaches `quality`; None if it never does."""
    if front[0][1] >= quality:
        return front[0][0]
    for (c0, q0), (c1, q1) in itertools.pairwise(front):
        if q1 >= quality:
            return c0 + (c1 - c0) * (quality - q0) / (q1 - q0)
    return None


def aiq(points: Sequence[Point], low_cost: float, high_cost: float) -> float:
    """Average quality over [low_cost, high_cost] under the hull of `points`."""
    front = hull(points)
    if high_cost <= low_cost:
        return quality_at(front, low_cost)
    xs = sorted({low_cost, high_cost, *(c for c, _ in front if low_cost < c < high_cost)})
    area = sum(
        (x1 - x0) * (quality_at(front, x0) + quality_at(front, x1)) / 2
        for x0, x1 in itertools.pairwise(xs)
    )
    return area / (high_cost - low_cost)


def pgr(quality: float, weak: float, strong: float) -> float:
    gap = strong - weak
    return (quality - weak) / gap if gap else 0.0


def apgr(curve: Sequence[Point], weak: float, strong: float) -> float:
    """Area under PGR over the share of strong calls, for a curve spanning shares 0..1."""
    ordered = sorted(curve)
    return sum(
        (s1 - s0) * (pgr(q0, weak, strong) + pgr(q1, weak, strong)) / 2
        for (s0, q0), (s1, q1) in itertools.pairwise(ordered)
    )


def cpt(curve: Sequence[Point], weak: float, strong: float, target: float) -> float | None:
    """The smallest share of strong calls at which PGR reaches `target` (0..1)."""
    return share_to_reach(curve, weak + target * (strong - weak))


def share_to_reach(curve: Sequence[Point], quality: float) -> float | None:
    """The smallest share (or cost) at which a measured curve's quality reaches `quality`."""
    reached = [share for share, q in curve if q >= quality - 1e-12]
    return min(reached) if reached else None

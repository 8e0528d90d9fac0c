"""The shadow benchmark's pooled figures: every request of the runs together, one never
answered counting as infinitely late."""

from __future__ import annotations

import math

from bench.shadow import ShadowRun, _pooled


def _run(latencies_ms: list[float], offered: int) -> ShadowRun:
    return ShadowRun("run", rate=offered, seconds=1, e2e_ms=latencies_ms)


def test_runs_pool_their_requests_and_the_unanswered_are_infinitely_late() -> None:
    fast = _run([10.0] * 99, offered=100)  # one request never answered
    slow = _run([20.0] * 100, offered=100)
    assert fast.latencies_ms()[-1] == math.inf
    assert _pooled([fast, slow], 50) in (10.0, 20.0)
    assert _pooled([slow, slow], 99) == 20.0
    assert _pooled([fast, slow], 100) == math.inf

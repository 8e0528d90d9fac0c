"""A model's latency spread can be given by its 99th percentile (heavy-tailed providers)."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from llmrouter.simulator.profiles import ModelProfile


def test_lognormal_latency_has_the_configured_median_and_p99() -> None:
    profile = ModelProfile(latency_median_ms=1500, latency_p99_ms=8000)
    mu, sigma = profile.lognormal_params
    rng = random.Random(7)
    draws = sorted(rng.lognormvariate(mu, sigma) for _ in range(200_000))
    median, p99 = draws[len(draws) // 2], draws[int(len(draws) * 0.99)]
    assert median == pytest.approx(1500, rel=0.03)
    assert p99 == pytest.approx(8000, rel=0.05)


def test_p99_below_the_median_is_refused() -> None:
    with pytest.raises(ValidationError, match="latency_p99_ms"):
        ModelProfile(latency_median_ms=1500, latency_p99_ms=900)

"""The quality worker's process lowers its own scheduling priority (LLMROUTER_QUALITY_NICE,
default 10), never raises it, and 0 leaves it as started. Each case runs in a child
process: niceness cannot be given back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.workers.quality.priority import QualityPriority

_PROBE = "from llmrouter.workers.quality.priority import lower_priority; print(lower_priority())"


def _niceness_after(nice: str | None, start: int = 0) -> int:
    """The niceness a child process started `start` steps back runs at after
    lower_priority(), with LLMROUTER_QUALITY_NICE=`nice` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "LLMROUTER_QUALITY_NICE"}
    if nice is not None:
        env["LLMROUTER_QUALITY_NICE"] = nice
    argv = [sys.executable, "-c", _PROBE]
    if start:
        argv = ["nice", "-n", str(start), *argv]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout.strip().splitlines()[-1])


def test_the_process_steps_back_to_the_configured_niceness() -> None:
    base = os.nice(0)
    assert _niceness_after("7") == max(base, 7)
    assert _niceness_after(None) == max(base, 10)  # the default


def test_zero_leaves_it_and_it_never_raises_the_priority() -> None:
    base = os.nice(0)
    assert _niceness_after("0") == base
    if base <= 15:
        assert _niceness_after("5", start=15 - base) == 15


def test_a_niceness_out_of_range_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        QualityPriority.from_environment(nice=20)

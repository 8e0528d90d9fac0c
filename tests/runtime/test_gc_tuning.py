"""A worker process's collector: start-up frozen, thresholds raised (in a child process,
since both are process-wide)."""

from __future__ import annotations

import subprocess
import sys

from llmrouter.runtime.gc_tuning import GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD

_CHILD = """
import gc
from llmrouter.runtime.gc_tuning import tune_gc
before = gc.get_threshold()
tune_gc()
print(before, gc.get_threshold(), gc.get_freeze_count())
"""


def test_tune_gc_freezes_start_up_and_raises_the_thresholds() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, frozen = done.stdout.strip().split(") ")
    assert before + ")" == "(700, 10, 10)"
    assert after + ")" == str((GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD))
    assert int(frozen) > 1000  # the modules imported so far


def test_the_worker_command_tunes_the_collector() -> None:
    """`llmrouter worker` / `run` go through `_run`, which tunes before the loop starts."""
    import inspect

    from llmrouter.cli import pipeline_commands

    source = inspect.getsource(pipeline_commands._run)
    assert source.index("tune_gc()") < source.index("event_loop.run(")

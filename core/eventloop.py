"""The event loop a worker process runs on: uvloop when installed, else asyncio's own.

uvloop (a dependency of the `worker` extra) runs the same asyncio code with a cheaper loop
and faster sockets, which is most of what a worker does between provider answers.
`LLMROUTER_UVLOOP=0` turns it off, e.g. to compare or to rule it out when debugging.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["UVLOOP_ENV", "loop_factory", "run"]

UVLOOP_ENV = "LLMROUTER_UVLOOP"
_OFF = {"0", "false", "no", "off"}

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default) when off or not installed."""
    if os.environ.get(UVLOOP_ENV, "").strip().lower() in _OFF:
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_factory()` names."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)

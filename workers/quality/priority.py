"""The quality worker's process yields the CPU to the live workers.

Shadow calls, grades and their transactions are work no client waits for. On a host whose
cores the router and classifier share with it, that work competed with theirs at equal
priority and stretched the live answers' latency (`python -m bench.shadow`: at 200 req/s
with every answer mirrored and half graded, on a busy two-core host, live p99 rose many
times over). `llmrouter worker quality` therefore lowers its own scheduling priority
(`LLMROUTER_QUALITY_NICE`, default 10; 0 leaves it as started): the kernel serves the live
workers first and the quality worker takes what CPU is left, lagging (it reads committed
records at its own pace) rather than slowing anyone. Only a process running the quality
worker alone does this: in a process with other workers it would slow them too.
"""

from __future__ import annotations

import os

import structlog
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from llmrouter.core.settings import EnvSettings

__all__ = ["QualityPriority", "lower_priority"]

log = structlog.get_logger("llmrouter.workers.quality")


class QualityPriority(EnvSettings):
    """How far the quality worker's process steps back: `LLMROUTER_QUALITY_NICE`."""

    model_config = SettingsConfigDict(env_prefix="LLMROUTER_QUALITY_")

    #: the niceness the process runs at, 0 (as started) to 19 (the lowest priority)
    nice: int = Field(default=10, ge=0, le=19)


def lower_priority(nice: int | None = None) -> int:
    """Raise this process's niceness to `nice` (None: LLMROUTER_QUALITY_NICE), never lower
    it; returns the niceness it runs at."""
    target = QualityPriority.from_environment().nice if nice is None else nice
    current = os.nice(0)
    if target > current:
        try:
            current = os.nice(target - current)
        except OSError as exc:  # a platform without it: run as started
            log.warning("quality worker priority not lowered", error=str(exc))
    log.info("quality worker priority", nice=current)
    return current

"""structlog set-up: JSON lines on stderr for services, quiet for one-shot commands."""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog

__all__ = ["configure_logging"]


class _CurrentStderr:
    """Whatever sys.stderr is at the time of writing: a logger cached while a test runner
    had swapped stderr must not keep writing to the runner's closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Every log line is JSON with a timestamp and level; prompt text is never logged at
    info, and provider errors arrive already redacted (router.secrets)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)
    # Kafka >= 3.6 verifies that a partition joined the transaction before accepting its
    # records and answers older protocol versions with a retriable NOT_ENOUGH_REPLICAS
    # while it checks (KIP-890). aiokafka retries, but warns on every one of them.
    logging.getLogger("aiokafka.producer.sender").setLevel(logging.ERROR)

"""structlog set-up: JSON lines on stderr for services, quiet for one-shot commands.

The standard library's loggers (aiokafka, asyncio, aiohttp, ...) go through the same
renderer, so stderr never mixes JSON lines with `ERROR:asyncio:...` text."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO, cast

import orjson
import structlog

__all__ = ["configure_logging"]


class _CurrentStderr:
    """Whatever sys.stderr is at the time of writing: a logger cached while a test runner
    had swapped stderr must not keep writing to the runner's closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _dumps(obj: Any, default: Callable[[Any], Any] | None = None, **_: Any) -> str:
    """A log line's JSON through orjson (a worker logs a line per request: the standard
    library's encoder was ~3% of its CPU); a line orjson refuses (an integer over 64 bits)
    has its values written as their repr, so a log call never fails."""
    try:
        return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        flat = {str(k): v if isinstance(v, str) else repr(v) for k, v in obj.items()}
        return orjson.dumps(flat).decode()


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the one handler we install on the root logger, so reconfiguring replaces it."""


def configure_logging(level: str = "info", *, json: bool = True) -> None:
    """Every log line is JSON with a timestamp and level; prompt text is never logged at
    info, and provider errors arrive already redacted (router.secrets)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=True,
    )
    handler = _StdlibHandler(cast(TextIO, _CurrentStderr()))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries are heard from at warning and above even when our own level is debug.
    root.setLevel(max(numeric, logging.WARNING))
    # Kafka >= 3.6 verifies that a partition joined the transaction before accepting its
    # records and answers older protocol versions with a retriable NOT_ENOUGH_REPLICAS
    # while it checks (KIP-890). aiokafka retries, but warns on every one of them.
    logging.getLogger("aiokafka.producer.sender").setLevel(logging.ERROR)

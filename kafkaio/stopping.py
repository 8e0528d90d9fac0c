"""Stopping an aiokafka consumer or producer within a bounded time, its connections closed
however the stop ends.

A stop can hang (a broker that does not answer, a flush that cannot go out) or raise; the
client's own `stop()` then never reaches the part that closes its broker connections, and
those stay open for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

__all__ = ["stop_within"]

log = structlog.get_logger("llmrouter.kafka")


async def stop_within(client: AIOKafkaConsumer | AIOKafkaProducer, timeout_s: float) -> None:
    """`client.stop()`, at most `timeout_s`; if it fails or runs out, its connections are
    closed all the same. Never raises (but a cancel of the caller)."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.stop()
    except Exception as exc:
        log.warning(
            "kafka client did not stop cleanly", client=type(client).__name__, error=repr(exc)
        )
        kafka_client: Any = getattr(client, "_client", None) or getattr(client, "client", None)
        if kafka_client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout_s):
                    await kafka_client.close()

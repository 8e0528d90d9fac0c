"""Library log lines (aiokafka, asyncio) come out as the same JSON lines as ours."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from llmrouter.schemas.codec import loads

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, logging
    import structlog
    from aiokafka import AIOKafkaConsumer
    from llmrouter.core.logging import configure_logging

    configure_logging("info")
    configure_logging("warning")  # configuring twice must not print lines twice

    async def main():
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
        del consumer
        gc.collect()  # aiokafka reports the unclosed consumer through asyncio's logger

    asyncio.run(main())
    logging.getLogger("aiokafka.conn").error("raw %s", "line")
    logging.getLogger("aiokafka.conn").info("below the level")
    structlog.get_logger().warning("ours", task="t")
    """
)


def test_stdlib_logging_is_rendered_as_json() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    events = [loads(line) for line in lines]  # every line is JSON
    by_logger = {e.get("logger", "ours"): e for e in events}
    assert by_logger["asyncio"]["event"].startswith("Unclosed AIOKafkaConsumer")
    assert by_logger["aiokafka.conn"] == {**by_logger["aiokafka.conn"], "event": "raw line"}
    assert by_logger["aiokafka.conn"]["level"] == "error"
    assert by_logger["ours"]["task"] == "t"
    assert len(events) == 3
    assert all("timestamp" in e for e in events)

"""A real redis-server for tests: started on a free port in a temporary directory."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator

from tests.kafka_helpers import free_port

__all__ = ["redis_available", "running_redis"]


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


async def _wait_for_ping(port: int, timeout_s: float, *, authenticated: bool = False) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            try:
                writer.write(b"PING\r\n")
                await writer.drain()
                reply = await reader.readline()
                if reply.startswith(b"+PONG") or (authenticated and reply.startswith(b"-NOAUTH")):
                    return
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_redis(*args: str, timeout_s: float = 10.0) -> AsyncIterator[str]:
    """`async with running_redis() as url:` a redis-server of its own, stopped after."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="llmrouter-redis-") as workdir:
        proc = await asyncio.create_subprocess_exec(
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            workdir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await _wait_for_ping(port, timeout_s, authenticated="--requirepass" in args)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()

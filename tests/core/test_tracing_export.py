"""Spans leave the process over OTLP/HTTP when the standard OTEL_* variables say where."""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

_CHILD = """
from opentelemetry import trace
from llmrouter.core import tracing
assert tracing.configure_tracing("llmrouter-test"), "tracing should be on"
with tracing.span("exported", attributes={"llmrouter.task": "t"}):
    pass
trace.get_tracer_provider().shutdown()  # flushes the batch
"""


async def test_spans_are_exported_over_otlp_when_configured() -> None:
    received: list[tuple[str, bytes]] = []
    got = asyncio.Event()

    async def traces(request: web.Request) -> web.Response:
        received.append((request.content_type, await request.read()))
        got.set()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        env.pop("OTEL_SDK_DISABLED", None)
        env.pop("OTEL_TRACES_EXPORTER", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        async with asyncio.timeout(10):
            await got.wait()
    finally:
        await runner.cleanup()
    content_type, body = received[0]
    assert content_type == "application/x-protobuf"
    assert b"exported" in body
    assert b"llmrouter-test" in body, "the service name"

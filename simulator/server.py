"""Running the simulator: `serve` (blocking, for `llmrouter sim`) and `running` (for tests)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from aiohttp import web

from llmrouter.simulator.app import create_app
from llmrouter.simulator.config import SimConfig

# In-flight requests (a `hang` above all) get this long to finish on shutdown.
SHUTDOWN_TIMEOUT_S = 1.0


async def _start(
    config: SimConfig | None, host: str, port: int, app: web.Application | None = None
) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(
        app if app is not None else create_app(config),
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True, backlog=4096)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}"


@asynccontextmanager
async def running(
    config: SimConfig | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    app: web.Application | None = None,
) -> AsyncIterator[str]:
    """Serve a simulator in this event loop; yields its base URL (port 0 = any free port).

    OpenAI clients take `f"{url}/v1"` as base_url, Anthropic clients take `url`. Pass an
    `app` made by `create_app` (instead of `config`) to reach its engine while it serves.
    """
    runner, url = await _start(config, host, port, app)
    try:
        yield url
    finally:
        await runner.cleanup()


async def _serve(host: str, port: int, config: SimConfig | None) -> None:
    runner, url = await _start(config, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"simulator listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.cleanup()
        print("simulator stopped", flush=True)


def serve(host: str = "127.0.0.1", port: int = 8700, config: SimConfig | None = None) -> None:
    """Run a simulator until SIGINT or SIGTERM (blocking)."""
    asyncio.run(_serve(host, port, config))

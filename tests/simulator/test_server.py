"""`running` closes what it opened; `serve` (via `python -m llmrouter.simulator`) stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import aiohttp
import openai
import pytest

from llmrouter.simulator import SimConfig, running


async def test_running_closes_its_server(eval_dir: Path) -> None:
    async with running(SimConfig(latency_ms=0, eval_dirs=[eval_dir])) as url:
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as resp:
            assert resp.status == 200
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{url}/healthz")


async def test_shutdown_drops_hanging_requests(eval_dir: Path) -> None:
    config = SimConfig(latency_ms=0, eval_dirs=[eval_dir])
    started = time.monotonic()
    async with running(config) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
        call = asyncio.ensure_future(
            client.chat.completions.create(
                model="gpt-4",
                messages=[{"role": "user", "content": "[[sim:fault=hang]]"}],
                timeout=60,
            )
        )
        async with aiohttp.ClientSession() as http:
            while True:  # until the server has seen the hanging call
                async with http.get(f"{url}/_sim/stats") as resp:
                    if (await resp.json())["totals"]["hang"] == 1:
                        break
    try:
        with pytest.raises(openai.APIConnectionError) as dropped:
            await call
    finally:
        await client.close()
    # Dropped by the shutdown, not given up on by the client: the SDK's timeout error is a
    # subclass of the connection error, so the type tells them apart, whatever the load.
    assert not isinstance(dropped.value, openai.APITimeoutError), dropped.value
    # And well before the call's 60 s timeout: the margin is half of it, not a tight window.
    assert time.monotonic() - started < 30


async def test_serve_prints_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--port",
        "0",
        "--latency-ms",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert line.startswith("simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as resp:
            assert resp.status == 200
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

"""`python -m bench.provider_call [--calls N] [--concurrency C]`: CPU per provider call.

The bench process makes N chat-completion calls, C at a time, to a zero-latency simulator
(its own process) and divides the CPU time this process spent by N, for: the openai SDK's
typed `chat.completions.create()` (what the router used before), the product's
`OpenAIProvider.complete` (the request the SDK built, replayed over the light path's own
HTTP/1.1 client, router/providers/light_http.py; orjson), and a bare aiohttp POST with an
orjson parse (what the product used before). Each on asyncio's loop and on uvloop. Every
client keeps a keep-alive pool of the same size.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import openai
import orjson

from bench.harness import start_simulator
from llmrouter.core import eventloop
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.openai_client import OpenAIProvider
from llmrouter.router.providers.transport import POOL_SIZE

__all__ = ["measure"]

MODEL = "gpt-3.5-turbo-0125"
SYSTEM = "You are a customer support assistant."
USER = (
    "Answer this question based on our knowledge base:\nKnowledge base: Refunds within 30 "
    "days of purchase.\nQuestion: How long do I have to ask for a refund?\n"
    "Provide a helpful, professional response.\n"
)
REQUEST = ChatRequest(MODEL, SYSTEM, USER, max_output_tokens=256, temperature=0.2, timeout_s=30)

Call = Callable[[], Awaitable[object]]


async def _cpu_per_call_us(call: Call, calls: int, concurrency: int) -> tuple[float, float]:
    """(CPU µs per call in this process, calls per second of wall time)."""
    for _ in range(50):  # warm up: connections, caches
        await call()
    remaining = calls

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / calls * 1e6, calls / wall


async def _variants(sim_url: str, calls: int, concurrency: int) -> dict[str, tuple[float, float]]:
    base = f"{sim_url}/v1"
    sdk = openai.AsyncOpenAI(
        api_key="sk-bench",
        base_url=base,
        max_retries=0,
        # the SDK's recommended aiohttp transport, with the same pool size
        http_client=openai.DefaultAioHttpClient(
            limits=httpx2.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
        ),
    )
    provider = OpenAIProvider(provider="openai", api_key="sk-bench", base_url=base)
    connector = aiohttp.TCPConnector(limit=POOL_SIZE)
    session = aiohttp.ClientSession(connector=connector)
    body = orjson.dumps(provider.body(REQUEST))
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}

    async def typed() -> object:
        return await sdk.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
            max_completion_tokens=256,
            temperature=0.2,
            timeout=30,
        )

    async def bare() -> object:
        async with session.post(f"{base}/chat/completions", data=body, headers=headers) as r:
            data: Any = orjson.loads(await r.read())
            return data["choices"][0]["message"]["content"]

    out: dict[str, tuple[float, float]] = {}
    try:
        for name, call in (
            ("openai SDK typed create()", typed),
            (
                "product OpenAIProvider.complete (SDK-built request, light HTTP client + orjson)",
                lambda: provider.complete(REQUEST),
            ),
            ("bare aiohttp POST + orjson", bare),
        ):
            out[name] = await _cpu_per_call_us(call, calls, concurrency)
    finally:
        await sdk.close()
        await provider.aclose()
        await session.close()
    return out


def measure(calls: int, concurrency: int) -> str:
    """The Markdown table of one run (a simulator subprocess is started and stopped)."""
    rows: list[str] = []

    async def main(loop_name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="llmrouter-bench-") as logs:
            async with start_simulator(0, Path(logs)) as (_sim, url):
                for name, (us, rate) in (await _variants(url, calls, concurrency)).items():
                    rows.append(f"| {name} | {loop_name} | {us:,.0f} | {rate:,.0f} |")

    asyncio.run(main("asyncio"))
    if eventloop.loop_factory() is not None:
        eventloop.run(main("uvloop"))
    header = (
        f"{calls:,} calls, {concurrency} in flight, zero-latency simulator in its own process\n\n"
        "| client | loop | CPU µs per call (bench process) | calls/s |\n"
        "| --- | --- | ---: | ---: |"
    )
    return "\n".join([header, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.provider_call", description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    print(measure(args.calls, args.concurrency))


if __name__ == "__main__":
    main()

"""HTTP plumbing shared by both APIs: fast JSON bodies, request ids, SSE, holding a hang."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"
_PREFIX = os.urandom(4).hex()
_counter = itertools.count(1)

# How often a hanging request checks that its client is still there (handlers are also
# cancelled directly on disconnect when the runner enables `handler_cancellation`).
_HANG_POLL_S = 0.05


def new_id(prefix: str) -> str:
    """A unique id such as `chatcmpl-sim1a2b3c4d000000000042`."""
    return f"{prefix}sim{_PREFIX}{next(_counter):012d}"


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type=JSON, headers=headers
    )


def parse_json(raw: bytes) -> Any:
    """The decoded body, or raise `ValueError` (orjson's error is a subclass)."""
    return orjson.loads(raw)


def sse_event(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    return head + b"data: " + payload + b"\n\n"


async def open_sse(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(
        status=200,
        headers={**headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
    )
    await response.prepare(request)
    return response


async def hang(
    request: web.Request, cap_s: float, closing: Callable[[], bool] = lambda: False
) -> web.Response:
    """Hold the request open until the client goes away or the server shuts down.

    On shutdown the connection is dropped without an answer, as a dying server would; after
    `cap_s` the request ends with the 504 a gateway in front of a stuck server would send.
    """
    deadline = time.monotonic() + cap_s
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return web.Response(status=499)
        if closing() or request.content.exception() is not None:
            transport.close()
            return web.Response(status=499)
        await asyncio.sleep(_HANG_POLL_S)
    return web.Response(status=504, text="simulated hang: gave up waiting")

"""The SDKs' aiohttp transport, with a keep-alive pool as large as what can be in flight.

Both SDKs recommend aiohttp over their default HTTP stack for concurrency; measured here it
roughly doubles what one worker process sustains (docs/BENCHMARKS.md). The default pool
keeps 100 connections alive, so a burst of several hundred concurrent calls would open and
close a connection per call.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["POOL_SIZE", "aiohttp_client"]

POOL_SIZE = 4096


def _http_module() -> ModuleType:
    # The SDKs moved from httpx to httpx2; take whichever this install has.
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("neither httpx2 nor httpx is installed")


def aiohttp_client(sdk: ModuleType) -> Any | None:
    """`sdk.DefaultAioHttpClient` with a large pool, or None when this SDK has none (then
    the SDK's own default transport is used)."""
    factory = getattr(sdk, "DefaultAioHttpClient", None)
    if factory is None:
        return None
    try:
        limits = _http_module().Limits(
            max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE
        )
        return factory(limits=limits)
    except (ImportError, RuntimeError, TypeError):  # aiohttp extra missing, or an older SDK
        return None

"""The keep-alive pool of provider calls: as large as what can be in flight.

aiohttp's default pool keeps 100 connections, so a burst of several hundred concurrent
calls (500 requests/s at 1.5 s each is 750 at once) would open and close a connection per
call; one connection per call in flight is what a slow LLM call needs.
"""

from __future__ import annotations

__all__ = ["POOL_SIZE"]

POOL_SIZE = 4096

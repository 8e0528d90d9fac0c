"""Whether a route's calls travel with a kept result, told on its ledger.

A request's cost events go out with its result. When the result is kept for the request
id (router/state/dedupe.py) before it is published, whoever publishes it — this worker,
or the next owner of the record as a redelivery — publishes the cost events of every call
on it. When it is not kept (the route failed, was cut off, or raised), nobody else ever
will, so the worker that made the calls publishes their cost events itself.

`keeping(dedupe, ledger)` is the dedupe a route claims through: it marks `ledger.kept` once
the result is stored, and a store that has begun is finished even when the route is
cancelled meanwhile, so the mark never lies about a result the next owner will publish
(a claim whose store never suspends, `stores_at_once`, the in-process one's, cannot be
cut off halfway and is awaited as it is).
"""

from __future__ import annotations

import asyncio
from typing import Any

from llmrouter.router.calls import CallLedger
from llmrouter.router.state.dedupe import Claim, Dedupe, SeenResult

__all__ = ["keeping"]


def keeping(dedupe: Dedupe, ledger: CallLedger) -> Dedupe:
    """`dedupe`, with a stored result marking `ledger.kept`."""
    return _Keeping(dedupe, ledger)


class _Keeping:
    def __init__(self, dedupe: Dedupe, ledger: CallLedger) -> None:
        self._dedupe, self._ledger = dedupe, ledger

    async def claim(self, request_id: str, origin: str, **options: Any) -> Claim | SeenResult:
        claim = await self._dedupe.claim(request_id, origin, **options)
        if isinstance(claim, SeenResult):
            return claim
        return _KeepingClaim(claim, self._ledger)

    async def aclose(self) -> None:  # the wrapped dedupe is its owner's to close
        return None


class _KeepingClaim:
    def __init__(self, claim: Claim, ledger: CallLedger) -> None:
        self._claim, self._ledger = claim, ledger

    async def store(self, result: bytes) -> None:
        if getattr(self._claim, "stores_at_once", False):
            # a store that never suspends is never cut off: no task to shield it
            await self._claim.store(result)
            self._ledger.kept = True
            return
        store = asyncio.ensure_future(self._claim.store(result))
        try:
            await asyncio.shield(store)
        except asyncio.CancelledError:
            # Cut off while storing: finish, so the ledger says for sure what was kept.
            await store
            self._ledger.kept = True
            raise
        self._ledger.kept = True

    async def release(self) -> None:
        await self._claim.release()

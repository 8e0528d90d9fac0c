"""What an ended job's answers leave in the shared state, besides their records: each
batch call's cost on its task's daily budget, charged once per entry however often the
job's publish is retried (router/state/budget.py `charge_once`, marked by the entry's
origin), and each answer kept for later copies of its request id as a realtime answer is
(router/state/dedupe.py). Both happen before the transaction that publishes the job, so
a crash after it repeats neither; afterwards the ids' in-job marks are removed."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Sequence
from decimal import Decimal

from llmrouter.router.budget import Budget, BudgetTracker
from llmrouter.router.state.budget import SharedBudget
from llmrouter.router.state.dedupe import Dedupe, SeenResult, input_fingerprint
from llmrouter.schemas import LLMResult, encode
from llmrouter.schemas.batches import BatchEntry

__all__ = ["charge_answer", "keep_answer", "settle_answers"]

#: at most this many store calls at once for one job's answers
_CONCURRENCY = 64

#: the charges a per-process budget took (no store to mark them in)
_CHARGED: weakref.WeakKeyDictionary[BudgetTracker, set[str]] = weakref.WeakKeyDictionary()


async def charge_answer(budget: Budget, task: str, charge_id: str, cost_usd: Decimal) -> None:
    """`cost_usd` on `task`'s spend today, once per `charge_id`."""
    if isinstance(budget, SharedBudget):
        await budget.charge_once(task, charge_id, cost_usd)
    elif isinstance(budget, BudgetTracker):
        charged = _CHARGED.setdefault(budget, set())
        if charge_id not in charged:
            charged.add(charge_id)
            budget.add(task, cost_usd)


async def keep_answer(dedupe: Dedupe, entry: BatchEntry, result: LLMResult) -> None:
    """Keep the answer for later copies of its request id (they get it as a duplicate)."""
    request = entry.request
    claim = await dedupe.claim(
        request.request_id,
        entry.origin,
        wait_s=0.0,
        task=request.task,
        fingerprint=input_fingerprint(request),
    )
    if not isinstance(claim, SeenResult):  # kept already (a retried publish): leave it
        await claim.store(encode(result))


async def settle_answers(
    budget: Budget, dedupe: Dedupe, answers: Sequence[tuple[BatchEntry, LLMResult, Decimal]]
) -> None:
    """Charge and keep every answer of a job, a bounded number at a time."""
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def one(entry: BatchEntry, result: LLMResult, cost_usd: Decimal) -> None:
        async with gate:
            await charge_answer(budget, entry.request.task, entry.origin, cost_usd)
            await keep_answer(dedupe, entry, result)

    steps: list[Awaitable[None]] = [one(*answer) for answer in answers]
    await asyncio.gather(*steps)

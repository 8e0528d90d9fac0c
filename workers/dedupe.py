"""The routing worker's idempotency: one provider-answered result per `request_id`.

The claim and the stored result live in the router's state (router/state/dedupe.py): per
process, or shared by every replica through the store. A result is stored before the
transaction that publishes it; the record it came from (`topic:partition:offset`) tells
a duplicate (published again, marked `duplicate: true`, no cost events — or dropped) from
the same record delivered again after a crash (published as the original, cost events
included, since the first transaction never committed).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import ConsumerRecord

from llmrouter.router import RoutingEngine
from llmrouter.router.state.dedupe import Claim, SeenResult
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, decode, encode, results_topic
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import result_outputs
from llmrouter.workers.runtime import Output

__all__ = ["claim_request", "keep_result", "origin_of", "seen_outputs"]


def origin_of(record: ConsumerRecord[bytes, bytes]) -> str:
    return f"{record.topic}:{record.partition}:{record.offset}"


async def claim_request(
    router: RoutingEngine, request: LLMRequest, record: ConsumerRecord[bytes, bytes]
) -> Claim | SeenResult:
    """Own the request id, or the result it already has (waiting for an owner in flight
    as long as the owner's whole request may take)."""
    defaults = router.config.defaults
    return await router.state.dedupe.claim(
        request.request_id,
        origin_of(record),
        wait_s=defaults.timeout_s * defaults.max_calls_per_request,
    )


def seen_outputs(
    router: RoutingEngine,
    seen: SeenResult,
    record: ConsumerRecord[bytes, bytes],
    headers: Iterable[tuple[str, bytes]] = (),
) -> list[Output]:
    result = decode(seen.result, LLMResult)
    if seen.redelivered(origin_of(record)):
        return result_outputs(result, tuple(headers))
    drop = router.config.defaults.duplicates == "drop"
    METRICS.duplicates.labels(result.task, "dropped" if drop else "republished").inc()
    if drop:
        return []
    copy = result.model_copy(update={"duplicate": True})
    return [
        Output(
            results_topic(result.task),
            encode(copy),
            result.request_id.encode(),
            headers=tuple(headers),
        )
    ]


async def keep_result(claim: Claim, result: LLMResult) -> None:
    """Store an answer for later duplicates; anything else frees the id for a retry."""
    if result.status is ResultStatus.OK:
        await claim.store(encode(result))
    else:
        await claim.release()

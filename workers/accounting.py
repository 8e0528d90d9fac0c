"""Every provider call on `llm.costs`, once: which worker publishes which cost event.

- A request's calls go out as cost events with its result, bound to its record's offset:
  published once with it, or — the record handed over or the process gone first — by
  whoever processes the record next. A result kept for the request id
  (router/state/dedupe.py) is published by the next owner as a redelivery, with the cost
  events of every call on it, and no call is made again.
- The classifier stage publishes the cost events of its own calls (the LLM classifier's)
  with the classified request, in one transaction, and marks the record it publishes
  (`CLASSIFIER_COSTS_HEADER`); the router stage then publishes none for the attempts the
  request carries (`classifier_attempts`, the first of the result's attempts). So they
  are on `llm.costs` whether the router stage later answers, expires, dedupes or
  dead-letters the request. (A record without the mark, from a classifier stage older
  than this rule, has them published by the router stage as before.)
- Calls no result will ever carry — the record was cut off (handed over past the
  rebalance grace, or a shutdown past the grace) with no result kept, or its handler
  raised — have their cost events published by the worker that made them, bound to no
  record (`TransactionalWorker.publish_unbound`), in its next transaction. The call cut
  off in flight is an `abandoned` attempt (router/calls.py). The next owner, calling
  again, publishes its own calls' events: a call is never in both, because a result that
  was not kept carries no call of another process. These events are marked `unbound`:
  numbered within the unfinished route, they may share `request_id` and `attempt` with
  an attempt of the request's result, which is another call.

A SIGKILL loses the cost events of the calls its process had in flight, or had made for
records not yet committed (docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal

import structlog
from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.router.calls import CallLedger
from llmrouter.schemas import (
    COSTS_TOPIC,
    Attempt,
    AttemptOutcome,
    CostEvent,
    LLMRequest,
    LLMResult,
    ResultStatus,
    decode,
    encode,
)
from llmrouter.workers.metrics import METRICS
from llmrouter.workers.outputs import cost_events

__all__ = [
    "CLASSIFIER_COSTS_HEADER",
    "PublishUnbound",
    "accounted",
    "attempt_cost_outputs",
    "carried_by_classifier",
    "mark_classifier_costs",
    "without_carried",
]

log = structlog.get_logger("llmrouter.workers")

#: the header of a classified request whose classifier calls' cost events are published
CLASSIFIER_COSTS_HEADER = "llmrouter-classifier-costs"
_PUBLISHED = b"published"

#: what hands outputs bound to no record to the runtime (`TransactionalWorker.publish_unbound`)
PublishUnbound = Callable[[Sequence[Output]], None]


def attempt_cost_outputs(
    request: LLMRequest, attempts: Sequence[Attempt], *, first: int = 0, unbound: bool = False
) -> list[Output]:
    """The cost events of `attempts[first:]`, numbered by their place in `attempts` (as on
    the request's result), keyed by the request id; `unbound` when no result carries them."""
    if len(attempts) <= first:
        return []
    carrier = LLMResult(
        request_id=request.request_id,
        task=request.task,
        status=ResultStatus.FAILED,
        attempts=list(attempts),
        cost_usd=sum((a.cost_usd for a in attempts), Decimal(0)),
        user_tier=request.user_tier,
        priority=request.priority,
    )
    key = request.request_id.encode()
    events = cost_events(carrier)[first:]
    if unbound:
        events = [event.model_copy(update={"unbound": True}) for event in events]
    return [Output(COSTS_TOPIC, encode(event), key) for event in events]


def mark_classifier_costs(headers: Sequence[tuple[str, bytes]]) -> tuple[tuple[str, bytes], ...]:
    """`headers` with the mark that the classifier calls' cost events are published."""
    kept = tuple(h for h in headers if h[0] != CLASSIFIER_COSTS_HEADER)
    return (*kept, (CLASSIFIER_COSTS_HEADER, _PUBLISHED))


def carried_by_classifier(record: ConsumerRecord[bytes, bytes], attempts: int) -> int:
    """How many of a classified request's first attempts (its `classifier_attempts`, of
    which there are `attempts`) had their cost events published by the classifier stage."""
    if attempts == 0:  # the usual case, and every request the router reads directly
        return 0
    marked = any(
        name == CLASSIFIER_COSTS_HEADER and value == _PUBLISHED
        for name, value in record.headers or ()
    )
    return attempts if marked else 0


def without_carried(outputs: list[Output], carried: int) -> list[Output]:
    """`outputs` without the cost events of the first `carried` attempts (published by
    the classifier stage already)."""
    if carried <= 0:
        return outputs
    return [
        out
        for out in outputs
        if out.topic != COSTS_TOPIC or decode(out.value, CostEvent).attempt >= carried
    ]


@contextlib.contextmanager
def accounted(
    stage: str,
    ledger: CallLedger,
    publish: PublishUnbound | None,
    *,
    carried: int = 0,
) -> Iterator[None]:
    """Around a route or a classification booked in `ledger`: when it raises, or is cut
    off, and no result carrying its calls was kept, publish their cost events bound to no
    record (all but the first `carried`, published by the classifier stage)."""
    try:
        yield
    except BaseException:
        _publish_unbound(stage, ledger, publish, carried)
        raise
    if _cut_off():  # the runtime drops what the handler returns now
        _publish_unbound(stage, ledger, publish, carried)


def _publish_unbound(
    stage: str, ledger: CallLedger, publish: PublishUnbound | None, carried: int
) -> None:
    if ledger.kept:  # whoever publishes the kept result publishes these too
        return
    outputs = attempt_cost_outputs(ledger.request, ledger.attempts, first=carried, unbound=True)
    if not outputs:
        return
    for attempt in ledger.attempts[carried:]:
        if attempt.outcome is AttemptOutcome.ABANDONED:
            METRICS.calls_cut_off.labels(stage, attempt.model).inc()
    if publish is None:
        log.error(
            "cost events of calls no result carries, and nowhere to publish them",
            stage=stage,
            request_id=ledger.request.request_id,
            events=len(outputs),
        )
        return
    METRICS.unbound_cost_events.labels(stage).inc(len(outputs))
    publish(outputs)


def _cut_off() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

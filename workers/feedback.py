"""The rule for records on `llm.feedback`, for whichever worker consumes them.

`read_feedback` decodes a record's value into a `Feedback`, or raises InvalidMessage
saying why not (not JSON, failing the schema, an unknown field). `feedback_error_policy`
is the `OnError` of a feedback consumer: a bad record becomes a dead letter on `llm.dlq`
and nothing else. Unlike a bad request, it gets no `failed` result: the request it names
was answered long ago, and a second result would contradict the first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.schemas import Feedback, decode
from llmrouter.workers.outputs import WorkerIdentity, dead_letter, last_resort_dead_letter

__all__ = ["feedback_error_policy", "read_feedback"]

log = structlog.get_logger("llmrouter.workers")


def read_feedback(record: ConsumerRecord[bytes, bytes]) -> Feedback:
    """The feedback a record carries; InvalidMessage (with a short reason) when it is bad."""
    return decode(record.value, Feedback)


def feedback_error_policy(
    identity: WorkerIdentity,
) -> Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]:
    """What a feedback consumer publishes for a record its handler raised on: the dead
    letter alone. Never raises: if building the dead letter fails, a minimal one goes."""

    def on_error(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
        log.warning(
            "feedback dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error_type=type(exc).__name__,
        )
        try:
            return [dead_letter(identity, record, exc)]
        except Exception as policy_exc:  # the policy must not raise
            return [last_resort_dead_letter(identity, record, exc, policy_exc)]

    return on_error

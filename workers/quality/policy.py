"""What the quality worker does with a record its handler raised on: bad feedback is
dead-lettered like a bad request (workers/feedback.py); for anything else nothing is
published (no result, no dead letter: the record was answered, or is a score the router
never needed): the error is logged and counted, and the record's offset commits with the
next transaction. The watch samples: one record less is one sample less."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.schemas import FEEDBACK_TOPIC, task_of_topic
from llmrouter.workers.metrics import METRICS

__all__ = ["OnError", "skip_on_error"]

OnError = Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]

log = structlog.get_logger("llmrouter.workers.quality")


def skip_on_error(worker: str, *, feedback: OnError | None = None) -> OnError:
    """The policy; `feedback` is the one for records of `llm.feedback` (dead letters)."""

    def on_error(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
        if feedback is not None and record.topic == FEEDBACK_TOPIC:
            return feedback(record, exc)
        log.warning(
            "quality worker skipped a record",
            worker=worker,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=type(exc).__name__,
            reason=str(exc)[:300],
        )
        METRICS.quality.skipped.labels(task_of_topic(record.topic) or "", "error").inc()
        return []

    return on_error

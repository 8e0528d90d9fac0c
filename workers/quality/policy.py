"""What the quality worker does with a record its handler raised on: nothing is published
for it (no result, no dead letter: the record was answered, or is a score or feedback the
router never needed); the error is logged and counted, and the record's offset commits
with the next transaction. The watch samples: one record less is one sample less."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output
from llmrouter.schemas import task_of_topic
from llmrouter.workers.metrics import METRICS

__all__ = ["skip_on_error"]

log = structlog.get_logger("llmrouter.workers.quality")


def skip_on_error(
    worker: str,
) -> Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]:
    def on_error(record: ConsumerRecord[bytes, bytes], exc: Exception) -> Sequence[Output]:
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

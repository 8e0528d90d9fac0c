"""Every record finishes, with outputs the producer can send.

A handler's outputs are checked before the record is finished: one larger than the
producer may send (`max_request_size`, the brokers' `message.max.bytes`) would fail
every transaction that carries it — and one transaction carries every partition — so
the record goes to `on_error` instead, with `MessageTooLarge`. What `on_error` returns
is checked too, and `on_error` itself may fail: either way the record still finishes
(with what fits, or with nothing), logged and counted, so its partition's committed
offset moves past it.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from llmrouter.core.errors import MessageTooLarge
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.handler import OnError
from llmrouter.runtime.reporting import RuntimeMetrics

__all__ = ["checked_outputs", "error_outputs", "record_size_bytes"]

log = structlog.get_logger("llmrouter.runtime")


def record_size_bytes(output: Output) -> int:
    """The most `output` takes in a record batch of its own (key, value, headers and the
    batch's overhead): what the producer compares with `max_request_size`."""
    return int(
        DefaultRecordBatchBuilder.estimate_size_in_bytes(
            output.key, output.value, list(output.headers)
        )
    )


def checked_outputs(outputs: Sequence[Output], limit_bytes: int) -> Sequence[Output]:
    """`outputs`, or MessageTooLarge naming the first one larger than `limit_bytes`."""
    for output in outputs:
        size = record_size_bytes(output)
        if size > limit_bytes:
            raise MessageTooLarge(
                f"output to {output.topic} of {size} bytes is over the producer's limit"
                f" of {limit_bytes} bytes"
            )
    return outputs


def error_outputs(
    on_error: OnError,
    record: ConsumerRecord[bytes, bytes],
    exc: Exception,
    *,
    limit_bytes: int,
    worker: str,
    metrics: RuntimeMetrics,
) -> list[Output]:
    """What `on_error` makes of `record`, less any output too large to send; never
    raises: when `on_error` does, the record finishes with no output."""
    where = {"worker": worker, "topic": record.topic, "partition": record.partition}
    try:
        outputs = list(on_error(record, exc))
    except Exception as policy_exc:
        log.error(
            "the error policy failed; the record is finished with no output",
            **where,
            offset=record.offset,
            error_type=type(exc).__name__,
            policy_error_type=type(policy_exc).__name__,
        )
        metrics.count_unpublished(worker, "error_policy_failed", 1)
        return []
    fitting = [o for o in outputs if record_size_bytes(o) <= limit_bytes]
    if len(fitting) < len(outputs):
        log.error(
            "an output of the error policy is too large to send; dropped",
            **where,
            offset=record.offset,
            dropped=len(outputs) - len(fitting),
            limit_bytes=limit_bytes,
        )
        metrics.count_unpublished(worker, "too_large", len(outputs) - len(fitting))
    return fitting

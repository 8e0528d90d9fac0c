"""What a worker runs for each record: a handler, and what to do when the handler raises.

The handler returns the record's outputs; when it raises, `OnError` turns the record and
the exception into the outputs to publish instead (a failed result, a dead letter). Both
are the workers' business: the runtime only publishes what they return.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output

__all__ = ["AtOnce", "Handler", "OnError"]

Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[Sequence[Output]]]
OnError = Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]
#: optional, beside a handler: a record's outputs when they are known without waiting
#: (no I/O), else None. The worker finishes such a record as it dispatches it, without
#: starting a task for it; None, or an exception, leaves the record to the handler (and
#: `OnError`), so it must say what the handler would and change nothing itself.
AtOnce = Callable[[ConsumerRecord[bytes, bytes]], Sequence[Output] | None]

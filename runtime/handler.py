"""What a worker runs for each record: a handler, and what to do when the handler raises.

The handler returns the record's outputs; when it raises, `OnError` turns the record and
the exception into the outputs to publish instead (a failed result, a dead letter). Both
are the workers' business: the runtime only publishes what they return.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiokafka import ConsumerRecord

from llmrouter.kafkaio.transactions import Output

__all__ = ["Handler", "OnError"]

Handler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[Sequence[Output]]]
OnError = Callable[[ConsumerRecord[bytes, bytes], Exception], Sequence[Output]]

"""Outputs bound to no record: published in the worker's next transaction, whatever becomes
of the partitions of the records that made them.

A record's outputs are published with its offset, or not at all: a record handed over
unfinished is processed again by the next owner, which publishes its outputs then. Some
outputs are not the record's to redo, though: the account of work done on it that the
next owner will not see (the workers' cost events of provider calls cut off with a record
handed over). A handler hands those to the worker (`TransactionalWorker.publish_unbound`)
and they go out in the next transaction, beside any partition's plan or alone. A failed
transaction keeps them for the next one; a process that dies first loses them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from llmrouter.kafkaio.transactions import Output

__all__ = ["UnboundOutputs"]


class UnboundOutputs:
    def __init__(self, wake: Callable[[], None]) -> None:
        self._waiting: list[Output] = []
        self._wake = wake

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, outputs: Iterable[Output]) -> None:
        """Publish `outputs` in the next transaction (waking the flush loop)."""
        added = list(outputs)
        if added:
            self._waiting.extend(added)
            self._wake()

    def take(self) -> list[Output]:
        """Everything waiting, for the transaction being planned."""
        taken, self._waiting = self._waiting, []
        return taken

    def put_back(self, outputs: list[Output]) -> None:
        """The transaction carrying `outputs` failed: they go in the next one, first."""
        self._waiting[:0] = outputs

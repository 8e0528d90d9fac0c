"""Did a transaction whose commit failed with its outcome unknown commit after all?

A commit can fail after EndTxn(commit) reached the coordinator (a timeout, a lost
connection: kafkaio/transactions.py), so the transaction may have committed. Publishing
its plans again would then publish their outputs twice. The committed offsets tell: each
plan commits, for its partition, an offset and a done-offsets record that no earlier
commit of the partition had — every plan marks at least one more record done, and the
done set (below the offset, and the record's ranges above it) only grows. So once nothing
more can happen to the transaction (a fresh producer with the same transactional id has
fenced the old one and completed or aborted what it left), the transaction committed if
and only if a partition's stable committed offset and metadata are exactly its plan's.

The answer covers the whole transaction: its partitions commit together or not at all,
so one partition showing its plan's commit is proof enough. Only partitions the worker
still holds are asked: one handed to another worker since shows that worker's commits,
and its records are that worker's to publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from llmrouter.runtime.progress import PartitionProgress, Plan

__all__ = ["Unresolved", "committed_as_planned"]


@dataclass(frozen=True)
class Unresolved:
    """The plans of a transaction whose outcome is unknown, with the producer that ran it
    (resolution waits until another one has replaced it) and the progress they belong to
    (a partition revoked since is the next owner's business)."""

    producer: object
    plans: Mapping[TopicPartition, tuple[PartitionProgress[Any], Plan[Any]]]


def committed_as_planned(
    plans: Mapping[TopicPartition, Plan[Any]],
    committed: Mapping[TopicPartition, OffsetAndMetadata | None],
) -> bool:
    """Whether the stable committed offsets show the transaction carrying `plans`."""
    for tp, plan in plans.items():
        found = committed.get(tp)
        if found is not None and (found.offset, found.metadata) == (plan.offset, plan.metadata):
            return True
    return False

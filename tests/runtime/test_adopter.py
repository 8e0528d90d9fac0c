"""The adopter after close: an assignment that a rebalance completes while the consumer
stops must start no reading of committed offsets (it would open broker connections on a
client that has closed them all, and nothing would ever close them)."""

from __future__ import annotations

from typing import cast

from aiokafka import AIOKafkaConsumer, TopicPartition

from llmrouter.runtime.adopter import Adopter
from llmrouter.runtime.book import PartitionBook
from llmrouter.runtime.options import WorkerOptions


class _PausingConsumer:
    """What the adopter asks of a consumer when partitions are assigned."""

    def __init__(self) -> None:
        self.paused: list[TopicPartition] = []

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused += partitions


def _adopter() -> tuple[Adopter, PartitionBook, _PausingConsumer]:
    options = WorkerOptions(
        name="w", group_id="g", pattern="llm.requests.t", transactional_id="w-0"
    )
    book = PartitionBook()
    adopter = Adopter(options, book)
    consumer = _PausingConsumer()
    adopter.bind(cast(AIOKafkaConsumer, consumer))
    return adopter, book, consumer


async def test_an_assignment_after_close_starts_no_reading() -> None:
    adopter, book, consumer = _adopter()
    await adopter.close()
    tp = TopicPartition("llm.requests.t", 0)
    adopter.on_assigned([tp])
    assert adopter._task is None  # no reading started
    # the partition is held paused, never read before its offsets are known
    assert consumer.paused == [tp]
    assert tp in book.paused


async def test_before_close_an_assignment_starts_reading() -> None:
    adopter, book, _ = _adopter()
    tp = TopicPartition("llm.requests.t", 0)
    adopter.on_assigned([tp])
    task = adopter._task
    assert task is not None
    await adopter.close()
    assert task.done()
    assert book.adopting == {tp: 1}

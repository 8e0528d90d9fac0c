"""No false stop: a fence is believed only when another live process holds the
transactional id; a transaction that outlived its timeout is retried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import ProducerFenced

from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.transactions import Output
from llmrouter.runtime.fence_check import outlived_timeout
from llmrouter.runtime.options import WorkerOptions
from llmrouter.runtime.reporting import NoMetrics, TransactionOutcome
from llmrouter.runtime.worker import TransactionalWorker
from tests.kafka_helpers import MakeTopics


async def _nothing(_record: ConsumerRecord[bytes, bytes]) -> list[Output]:
    return []


def _nothing_on_error(_record: ConsumerRecord[bytes, bytes], _exc: Exception) -> list[Output]:
    return []


class _Transactions(NoMetrics):
    """Records how each transaction ended."""

    def __init__(self) -> None:
        self.outcomes: list[TransactionOutcome] = []

    def count_transaction(self, worker: str, outcome: TransactionOutcome) -> None:
        self.outcomes.append(outcome)


def test_a_transaction_as_old_as_its_timeout_counts_as_timed_out() -> None:
    assert outlived_timeout(15.0, 15_000)
    assert not outlived_timeout(1.0, 15_000)


@pytest.fixture
async def workers(
    kafka_bootstrap: str,
) -> AsyncIterator[Callable[..., Awaitable[TransactionalWorker]]]:
    started: list[TransactionalWorker] = []

    async def make(options: WorkerOptions, metrics: NoMetrics | None = None) -> TransactionalWorker:
        worker = TransactionalWorker(
            options,
            KafkaSettings(bootstrap_servers=kafka_bootstrap),
            _nothing,
            _nothing_on_error,
            metrics=metrics or NoMetrics(),
        )
        await worker.start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        await worker.abandon()


@pytest.mark.slow
async def test_a_fence_is_believed_only_when_another_live_member_holds_the_id(
    workers: Callable[..., Awaitable[TransactionalWorker]],
    make_topics: MakeTopics,
    unique_name: Callable[[str], str],
) -> None:
    (topic,) = await make_topics(unique_name("fence"))
    options = WorkerOptions(
        name="router",
        group_id=unique_name("group"),
        pattern=f"^{topic}$",
        transactional_id=unique_name("txn"),
        session_timeout_ms=6000,
    )
    reported = _Transactions()
    first = await workers(options, reported)
    publisher = first._publisher
    # Alone in its group: an epoch bump of a young transaction is not a newer instance.
    assert not await publisher._really_fenced(ProducerFenced())
    # A transaction older than its timeout was aborted by the coordinator: retry.
    publisher._clock.started_at = time.monotonic() - options.transaction_timeout_ms / 1000
    assert not await publisher._really_fenced(ProducerFenced())
    publisher._clock.started_at = None
    assert reported.outcomes == ["fenced_retry", "timed_out"]
    # A second live process with the same id joins the group: now it is real.
    second = await workers(options)
    stop = asyncio.Event()
    running = asyncio.create_task(second.run(stop))
    try:
        assert await publisher._really_fenced(ProducerFenced())
    finally:
        stop.set()
        await running

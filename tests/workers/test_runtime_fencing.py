"""No false stop: a fence is believed only when another live process holds the
transactional id; a transaction that outlived its timeout is retried. Start-up failures
are one line and a non-zero exit. Committed offsets are read only once stable."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import ProducerFenced
from aiokafka.structs import OffsetAndMetadata

from llmrouter.core.errors import ConfigError
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.kafkaio.stable_offsets import fetch_stable_offsets
from llmrouter.kafkaio.transactions import Output, commit_transaction, start_transactional_producer
from llmrouter.workers.fencing import outlived_timeout
from llmrouter.workers.launch import run_workers
from llmrouter.workers.runtime import TransactionalWorker, WorkerOptions
from tests.kafka_helpers import MakeTopics
from tests.workers.conftest import Pipeline

MakePipeline = Callable[..., Awaitable[Pipeline]]


async def _nothing(_record: ConsumerRecord[bytes, bytes]) -> list[Output]:
    return []


def _no_policy(_record: ConsumerRecord[bytes, bytes], _exc: Exception) -> list[Output]:
    return []


def test_a_transaction_as_old_as_its_timeout_counts_as_timed_out() -> None:
    assert outlived_timeout(15.0, 15_000)
    assert not outlived_timeout(1.0, 15_000)


@pytest.fixture
async def workers(
    kafka_bootstrap: str,
) -> AsyncIterator[Callable[..., Awaitable[TransactionalWorker]]]:
    started: list[TransactionalWorker] = []

    async def make(options: WorkerOptions) -> TransactionalWorker:
        worker = TransactionalWorker(
            options, KafkaSettings(bootstrap_servers=kafka_bootstrap), _nothing, _no_policy
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
    first = await workers(options)
    # Alone in its group: an epoch bump of a young transaction is not a newer instance.
    assert not await first._really_fenced(ProducerFenced())
    # A transaction older than its timeout was aborted by the coordinator: retry.
    first._clock.started_at = time.monotonic() - options.transaction_timeout_ms / 1000
    assert not await first._really_fenced(ProducerFenced())
    first._clock.started_at = None
    # A second live process with the same id joins the group: now it is real.
    second = await workers(options)
    stop = asyncio.Event()
    running = asyncio.create_task(second.run(stop))
    try:
        assert await first._really_fenced(ProducerFenced())
    finally:
        stop.set()
        await running


@pytest.mark.slow
async def test_committed_offsets_are_read_only_once_the_transaction_resolved(
    kafka_bootstrap: str, make_topics: MakeTopics, unique_name: Callable[[str], str]
) -> None:
    (topic,) = await make_topics(unique_name("stable"))
    group = unique_name("group")
    tp = TopicPartition(topic, 0)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    producer = await start_transactional_producer(kafka, unique_name("txn"))
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        await commit_transaction(
            producer, [Output(topic, b"x")], {tp: OffsetAndMetadata(5, "m")}, group
        )
        assert await fetch_stable_offsets(consumer, group, [tp]) == {tp: OffsetAndMetadata(5, "m")}
        await producer.begin_transaction()
        await producer.send_offsets_to_transaction({tp: OffsetAndMetadata(9, "n")}, group)
        # aiokafka's own fetch answers the older offset while the commit is pending ...
        assert await consumer.committed(tp) == 5
        pending = asyncio.create_task(fetch_stable_offsets(consumer, group, [tp]))
        await asyncio.sleep(0.5)
        assert not pending.done()  # ... the stable fetch waits for it
        await producer.commit_transaction()
        assert await asyncio.wait_for(pending, 10) == {tp: OffsetAndMetadata(9, "n")}
    finally:
        await producer.stop()
        await consumer.stop()


async def test_a_metrics_port_in_use_is_a_config_error(pipeline: MakePipeline) -> None:
    p = await pipeline()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            ConfigError,
            match=f"127.0.0.1:{port}.*LLMROUTER_METRICS_PORT|LLMROUTER_METRICS_PORT.*{port}",
        ):
            await run_workers(["router"], p.config, p.settings(metrics_port=port))


async def test_a_start_up_failure_is_one_line_and_a_non_zero_exit(
    pipeline: MakePipeline, tmp_path: Path
) -> None:
    p = await pipeline()
    config = tmp_path / "routing.yaml"
    config.write_text(p.config_text)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
            "LLMROUTER_METRICS_HOST": "127.0.0.1",
            "LLMROUTER_METRICS_PORT": str(busy.getsockname()[1]),
            "LLMROUTER_TASKS_PATTERN": f".*-{p.suffix}",
            "LLMROUTER_GROUP_PREFIX": p.group_prefix,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "llmrouter",
            "worker",
            "router",
            "--config",
            str(config),
            "--log-level",
            "error",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1
    assert "Traceback" not in err.decode()
    assert lines[-1].startswith("llmrouter: error: ")
    assert "LLMROUTER_METRICS_PORT" in lines[-1]

"""The local broker launcher, and the Kafka features the router relies on, on a real broker."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from llmrouter.core.errors import LocalKafkaError
from llmrouter.localkafka import LocalKafka, docker_env, kafka_version
from tests.kafka_helpers import MakeConsumer, MakeProducer, MakeTopics, free_port

WAIT_S = 30  # upper bound for one message to arrive; the happy path takes milliseconds


def _cli() -> list[str]:
    """The installed `llmrouter` entry point beside this interpreter, else the same via -c."""
    script = Path(sys.executable).with_name("llmrouter")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from llmrouter.cli import main; main()"]


def _run(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_cli(), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _private_env(state_dir: Path, **overrides: str) -> dict[str, str]:
    """Environment for a broker of its own: state in `state_dir`, free ports."""
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["LLMROUTER_KAFKA_HOME"] = str(state_dir)
    env["LLMROUTER_KAFKA_PORT"] = str(free_port())
    env["LLMROUTER_KAFKA_CONTROLLER_PORT"] = str(free_port())
    env.update(overrides)
    return env


@pytest.fixture
def private_broker_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A second broker's environment, so the session's shared broker is untouched."""
    env = _private_env(tmp_path / "kafka")
    yield env
    LocalKafka(
        state_dir=tmp_path / "kafka",
        port=int(env["LLMROUTER_KAFKA_PORT"]),
        controller_port=int(env["LLMROUTER_KAFKA_CONTROLLER_PORT"]),
    ).stop()


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cli_start_is_idempotent_and_stop_stops(private_broker_env: dict[str, str]) -> None:
    env = private_broker_env
    expected = f"127.0.0.1:{env['LLMROUTER_KAFKA_PORT']}"

    status = _run("kafka", "status", env=env)
    assert status.returncode == 1, status
    assert status.stdout.startswith("not running")

    first = _run("kafka", "start", "--tasks", "moderation", "--partitions", "2", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == expected
    again = _run("kafka", "start", "--tasks", "moderation", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == expected

    status = _run("kafka", "status", env=env)
    assert status.returncode == 0, status
    assert status.stdout.startswith("running (pid ")
    assert f"at {expected}, state in {env['LLMROUTER_KAFKA_HOME']}" in status.stdout

    if shutil.which("kcat"):  # a non-Python client sees the broker and the created topics
        listing = subprocess.run(
            ["kcat", "-b", expected, "-L"], capture_output=True, text=True, timeout=30, check=True
        )
        assert f"broker 1 at {expected}" in listing.stdout
        assert 'topic "llm.requests.moderation" with 2 partitions' in listing.stdout
        payload = f"hello-{uuid.uuid4().hex}"
        kcat = ["kcat", "-b", expected, "-t", "llm.dlq"]
        subprocess.run([*kcat, "-P"], input=payload, text=True, timeout=30, check=True)
        consumed = subprocess.run(
            [*kcat, "-C", "-o", "beginning", "-e", "-q"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert payload in consumed.stdout.splitlines()

    stopped = _run("kafka", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("stopped (pid ")
    status = _run("kafka", "status", env=env)
    assert status.returncode == 1
    assert status.stdout.startswith("not running")


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failed command's stderr, which must be one line and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _fake_java(bin_dir: Path, version_line: str) -> None:
    java = bin_dir / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)


@pytest.mark.parametrize(
    ("java", "expected"),
    [
        (None, "Java 17+ is needed"),
        ('openjdk version "11.0.22" 2024-01-16', "found Java 11"),
        ('java version "1.8.0_402"', "found Java 8"),
    ],
)
def test_missing_or_old_java_is_one_clear_line(
    tmp_path: Path, java: str | None, expected: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if java is not None:
        _fake_java(bin_dir, java)
    env = _private_env(tmp_path / "kafka", PATH=str(bin_dir))
    env.pop("JAVA_HOME", None)
    line = _one_error_line(_run("kafka", "start", env=env, timeout=60))
    assert expected in line
    assert "apt-get install openjdk-17-jre-headless" in line
    assert "docker compose up kafka" in line


def test_missing_maven_is_one_clear_line(tmp_path: Path) -> None:
    real_java = shutil.which("java")
    if real_java is None:
        pytest.skip("java is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(real_java)
    # An empty jar cache: Maven would be needed to fill it.
    env = _private_env(
        tmp_path / "kafka", PATH=str(bin_dir), XDG_CACHE_HOME=str(tmp_path / "empty-cache")
    )
    env.pop("JAVA_HOME", None)
    line = _one_error_line(_run("kafka", "start", env=env, timeout=60))
    assert "Maven (mvn) is needed" in line
    assert not any((tmp_path / "empty-cache").rglob("*.jar"))


def test_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        kafka = LocalKafka(state_dir=tmp_path, port=port, controller_port=free_port())
        with pytest.raises(LocalKafkaError, match=rf"port {port} on 127.0.0.1 .* already in use"):
            kafka.start()
    assert not kafka.status().running


async def test_aiokafka_round_trip(
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    make_consumer: MakeConsumer,
    unique_name: Callable[[str], str],
) -> None:
    (topic,) = await make_topics(unique_name("roundtrip"), partitions=3)
    producer = await make_producer(enable_idempotence=True, acks="all")
    sent = await producer.send_and_wait(topic, b'{"hello": "kafka"}', key=b"req-1")
    consumer = await make_consumer(topic, group_id=unique_name("group"))
    message = await asyncio.wait_for(consumer.getone(), WAIT_S)
    assert (message.key, message.value) == (b"req-1", b'{"hello": "kafka"}')
    assert (message.partition, message.offset) == (sent.partition, sent.offset)


async def test_faststream_subscriber_on_the_real_broker(
    kafka_bootstrap: str, make_topics: MakeTopics, unique_name: Callable[[str], str]
) -> None:
    (topic,) = await make_topics(unique_name("faststream"))
    broker = KafkaBroker(kafka_bootstrap)
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    @broker.subscriber(topic, group_id=unique_name("group"), auto_offset_reset="earliest")
    async def handle(body: dict[str, Any]) -> None:
        received.append(body)
        arrived.set()

    async with broker:
        await broker.start()
        await broker.publish({"request_id": "r-1"}, topic=topic, key=b"r-1")
        await asyncio.wait_for(arrived.wait(), WAIT_S)
    assert received == [{"request_id": "r-1"}]


async def test_transactions_read_committed_and_offsets(
    make_topics: MakeTopics,
    make_producer: MakeProducer,
    make_consumer: MakeConsumer,
    unique_name: Callable[[str], str],
) -> None:
    """What exactly-once workers rely on: aborted writes stay invisible to read_committed
    readers, and consumed offsets commit atomically with the output."""
    source, out = await make_topics(unique_name("txn-in"), unique_name("txn-out"))
    txn = await make_producer(transactional_id=unique_name("txn"))

    await txn.begin_transaction()
    await txn.send_and_wait(out, b"aborted")
    await txn.abort_transaction()

    plain = await make_producer()
    await plain.send_and_wait(source, b"input")
    group = unique_name("txn-group")
    worker = await make_consumer(source, group_id=group, enable_auto_commit=False)
    consumed = await asyncio.wait_for(worker.getone(), WAIT_S)
    position = TopicPartition(source, consumed.partition)
    async with txn.transaction():
        await txn.send_and_wait(out, b"committed")
        await txn.send_offsets_to_transaction({position: consumed.offset + 1}, group)
    assert await _committed_offset(worker, position, consumed.offset + 1) == consumed.offset + 1

    committed_reader = await make_consumer(out, isolation_level="read_committed")
    message = await asyncio.wait_for(committed_reader.getone(), WAIT_S)
    assert message.value == b"committed"  # the aborted record came first and was skipped

    raw_reader = await make_consumer(out, isolation_level="read_uncommitted")
    first = await asyncio.wait_for(raw_reader.getone(), WAIT_S)
    assert first.value == b"aborted"  # so the check above was not vacuous

    partition = TopicPartition(out, message.partition)
    found = await committed_reader.offsets_for_times({partition: message.timestamp})
    assert found[partition] is not None
    assert found[partition].offset == message.offset


async def _committed_offset(consumer: Any, partition: TopicPartition, expected: int) -> int | None:
    """The group's committed offset, polled until it is `expected` or WAIT_S passes.

    aiokafka's OffsetFetch (v3) cannot ask for stable offsets (KIP-447's require_stable
    is v7), so offsets committed in a transaction read as the previous value until the
    coordinator has written the commit marker, a moment after commit_transaction returns.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while (offset := await consumer.committed(partition)) != expected and loop.time() < deadline:  # noqa: ASYNC110 - no event to await
        await asyncio.sleep(0.05)
    return offset  # type: ignore[no-any-return]


def test_compose_broker_matches_the_launcher() -> None:
    """docker-compose.yml repeats the launcher's single-node settings; keep them in step."""
    compose = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{kafka_version()}"
    assert docker_env().items() <= kafka["environment"].items()

"""Where the test session's Kafka broker comes from, and the fixture factories' types."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from llmrouter.localkafka import LocalKafka, docker_env, kafka_version, wait_for_broker

KAFKA_IMAGE = f"apache/kafka:{kafka_version()}"


class MakeTopics(Protocol):
    async def __call__(self, *names: str, partitions: int = 1) -> list[str]: ...


class MakeProducer(Protocol):
    async def __call__(self, **kwargs: Any) -> AIOKafkaProducer: ...


class MakeConsumer(Protocol):
    async def __call__(self, *topics: str, **kwargs: Any) -> AIOKafkaConsumer: ...


@contextlib.contextmanager
def session_broker() -> Iterator[str]:
    """Bootstrap servers for the session, from the cheapest source available.

    `KAFKA_BOOTSTRAP_SERVERS`, else a local broker that already runs, else a container
    when a Docker engine answers, else a local broker started for (and stopped after)
    this session.
    """
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    kafka = LocalKafka()
    if not kafka.status().running and docker_available():
        with kafka_container() as servers:
            yield servers
        return
    with local_broker(kafka) as servers:
        yield servers


def docker_available() -> bool:
    """Whether a Docker engine answers within a few seconds (found as testcontainers does)."""
    from testcontainers.core.docker_client import DockerClient, get_docker_host

    host = get_docker_host() or "unix:///var/run/docker.sock"
    if host.startswith("unix://"):
        # Probe the socket ourselves: docker-py leaks its socket (a ResourceWarning, an
        # error under our filterwarnings) when the daemon is absent.
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(3)
            try:
                sock.connect(host.removeprefix("unix://"))
            except OSError:
                return False
    try:
        client = DockerClient(timeout=3).client
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def kafka_container(image: str = KAFKA_IMAGE) -> Iterator[str]:
    """A single-node KRaft broker in an `apache/kafka` container.

    testcontainers' KafkaContainer drives Confluent's cp-kafka start-up scripts, which
    the Apache image does not have, so this configures the image through its KAFKA_*
    variables instead. The host port is fixed before start because the broker must
    advertise the address clients reach it on.
    """
    from testcontainers.core.container import DockerContainer

    port = free_port()
    container = DockerContainer(image)
    host = container.get_docker_client().host()
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        **docker_env(),
    }
    for key, value in env.items():
        container.with_env(key, value)
    container.with_bind_ports(9092, port)
    with container:
        servers = f"{host}:{port}"
        wait_for_broker(servers, timeout_s=120)
        yield servers


@contextlib.contextmanager
def local_broker(kafka: LocalKafka) -> Iterator[str]:
    """The shared local broker, started if needed and stopped only by its last user.

    A broker that ran before the session is left running. One this session started
    is stopped at the end unless another test session still holds a lease on it
    (sessions hold a shared lock on `<state>/.sessions` while they use it).
    """
    kafka.state_dir.mkdir(parents=True, exist_ok=True)
    with open(kafka.state_dir / ".sessions", "a") as lease:
        fcntl.flock(lease, fcntl.LOCK_SH)  # blocks while a finishing session stops it
        was_running = kafka.status().running
        servers = kafka.start()
        try:
            yield servers
        finally:
            if not was_running:
                with contextlib.suppress(BlockingIOError):
                    fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else uses it
                    kafka.stop()


async def delete_topics(servers: str, names: Iterable[str]) -> None:
    """Best-effort clean-up so a long-lived dev broker does not pile up test topics."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    try:
        await admin.start()
        await admin.delete_topics(list(names))
    except KafkaError:
        pass
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

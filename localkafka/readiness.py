"""Readiness: a broker is ready when it answers a metadata request listing a live broker."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from llmrouter.core.errors import LocalKafkaError

__all__ = ["broker_ready", "port_in_use", "port_open", "run_in_thread", "wait_for_broker"]

_T = TypeVar("_T")


async def broker_ready(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when `bootstrap` answers a metadata request listing at least one live broker.

    Fenced brokers are left out of metadata, so a listed broker accepts topic creation,
    produce and consume requests.
    """
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


def wait_for_broker(
    bootstrap: str, timeout_s: float = 120, is_alive: Callable[[], bool] | None = None
) -> None:
    """Block until `bootstrap` answers (see `broker_ready`); used for container brokers too."""
    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout_s
    while not (port_open(host, int(port)) and run_in_thread(broker_ready(bootstrap))):
        if is_alive is not None and not is_alive():
            raise LocalKafkaError(f"the Kafka broker for {bootstrap} exited during start-up")
        if time.monotonic() > deadline:
            raise LocalKafkaError(f"Kafka did not answer on {bootstrap} within {timeout_s:.0f}s")
        time.sleep(0.25)


def run_in_thread(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion on a private loop in a helper thread.

    Works whether or not the caller already runs an event loop (the CLI does not, a
    pytest session does), and never touches the caller's loop.
    """
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="llmrouter-kafka-probe", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # SO_REUSEADDR as the JVM sets it: TIME_WAIT leftovers do not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False

"""A real redis-server for tests, or a real three-node Redis Cluster: started on free
ports in a temporary directory, stopped after."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator

from tests.kafka_helpers import free_port

__all__ = ["redis_available", "redis_cluster_available", "running_redis", "running_redis_cluster"]


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


def redis_cluster_available() -> bool:
    return redis_available() and shutil.which("redis-cli") is not None


async def _wait_for_ping(port: int, timeout_s: float, *, authenticated: bool = False) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            try:
                writer.write(b"PING\r\n")
                await writer.drain()
                reply = await reader.readline()
                if reply.startswith(b"+PONG") or (authenticated and reply.startswith(b"-NOAUTH")):
                    return
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await asyncio.sleep(0.05)


async def _start_node(port: int, workdir: str, *args: str) -> asyncio.subprocess.Process:
    """A redis-server on 127.0.0.1:`port`, nothing persisted, its files in `workdir`."""
    return await asyncio.create_subprocess_exec(
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        workdir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def running_redis(*args: str, timeout_s: float = 10.0) -> AsyncIterator[str]:
    """`async with running_redis() as url:` a redis-server of its own, stopped after."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="llmrouter-redis-") as workdir:
        proc = await _start_node(port, workdir, *args)
        try:
            await _wait_for_ping(port, timeout_s, authenticated="--requirepass" in args)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()


async def _cluster_state(port: int) -> str:
    from redis.asyncio import Redis

    client = Redis(host="127.0.0.1", port=port)
    try:
        info = await client.cluster("INFO")
    finally:
        await client.aclose()
    return str(info["cluster_state"])  # "ok" once every slot is served


@contextlib.asynccontextmanager
async def running_redis_cluster(nodes: int = 3, *, timeout_s: float = 30.0) -> AsyncIterator[str]:
    """`async with running_redis_cluster() as url:` `nodes` primaries (no replicas) sharing
    the 16384 slots; `url` names the first node with `?cluster=true`."""
    with tempfile.TemporaryDirectory(prefix="llmrouter-redis-cluster-") as workdir:
        procs: list[asyncio.subprocess.Process] = []
        try:
            ports: list[int] = []
            for i in range(nodes):
                port, bus_port = free_port(), free_port()
                node_dir = f"{workdir}/{i}"
                await asyncio.to_thread(os.mkdir, node_dir)
                procs.append(
                    await _start_node(
                        port,
                        node_dir,
                        "--cluster-enabled",
                        "yes",
                        "--cluster-port",
                        str(bus_port),
                        "--cluster-config-file",
                        f"{node_dir}/nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                    )
                )
                ports.append(port)
            for port in ports:
                await _wait_for_ping(port, timeout_s)
            create = await asyncio.create_subprocess_exec(
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            async with asyncio.timeout(timeout_s):
                output, _ = await create.communicate()
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {output.decode()[-500:]}")
            # Every node must agree the slots are covered before a client asks.
            async with asyncio.timeout(timeout_s):
                for port in ports:
                    while True:
                        if await _cluster_state(port) == "ok":
                            break
                        await asyncio.sleep(0.05)
            yield f"redis://127.0.0.1:{ports[0]}/0?cluster=true"
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            for proc in procs:
                await proc.wait()

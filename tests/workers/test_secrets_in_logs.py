"""No secret reaches a log line: a worker process started with a secret in every place one
can be given (the store URL's user information and query, the store password variable,
the Kafka SASL password, the providers' API keys) logs none of them, at debug level,
through start-up, a request, a SIGHUP reload, a store that refuses the password, and
shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from llmrouter.producers import RequestProducer
from tests.kafka_helpers import free_port
from tests.redis_helpers import redis_available, running_redis
from tests.workers.conftest import Pipeline

MakePipeline = Callable[..., Awaitable[Pipeline]]

REDIS_SECRET = "redis-pw-0f3c9a"
SECRETS = {
    "redis": REDIS_SECRET,
    "redis variable": "redis-variable-pw-7d21e4",
    "redis wrong": "redis-wrong-pw-5b8e13",
    "kafka": "kafka-sasl-pw-2c6f90",
    "openai": "sk-openai-key-9e4d17",
    "anthropic": "sk-ant-key-61ab3f",
}


async def _ready(url: str, proc: asyncio.subprocess.Process, timeout_s: float) -> None:
    """Poll /readyz as Kubernetes does, until it answers 200 (or the process died)."""
    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as http:
        while proc.returncode is None:
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"the worker exited with {proc.returncode}")


async def _drain(
    stream: asyncio.StreamReader | None, into: list[str], reloaded: asyncio.Event
) -> None:
    assert stream is not None
    while line := await stream.readline():
        into.append(line.decode(errors="replace"))
        if "config reloaded" in into[-1]:
            reloaded.set()


@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed")
@pytest.mark.parametrize("where", ["userinfo", "query", "refused"])
async def test_no_secret_is_logged(pipeline: MakePipeline, tmp_path: Path, where: str) -> None:
    p = await pipeline()
    config = tmp_path / "routing.yaml"
    config.write_text(p.config_text)
    async with running_redis("--requirepass", REDIS_SECRET) as redis_url:
        host = redis_url.removeprefix("redis://")
        store_url = {
            "userinfo": f"redis://:{REDIS_SECRET}@{host}",
            "query": f"redis://{host}?password={REDIS_SECRET}",
            "refused": f"redis://default:{SECRETS['redis wrong']}@{host}?password={SECRETS['redis wrong']}",
        }[where]
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": p.bootstrap,
            "KAFKA_SASL_USERNAME": "router",
            "KAFKA_SASL_PASSWORD": SECRETS["kafka"],
            "OPENAI_API_KEY": SECRETS["openai"],
            "ANTHROPIC_API_KEY": SECRETS["anthropic"],
            "LLMROUTER_REDIS_URL": store_url,
            "LLMROUTER_REDIS_PASSWORD": SECRETS["redis variable"],
            "LLMROUTER_METRICS_HOST": "127.0.0.1",
            "LLMROUTER_METRICS_PORT": str(port),
            "LLMROUTER_TASKS_PATTERN": f".*-{p.suffix}",
            "LLMROUTER_GROUP_PREFIX": p.group_prefix,
            "LLMROUTER_INSTANCE_ID": f"{p.group_prefix}secrets",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "llmrouter", "run", "--config", str(config)),
            *("--log-level", "debug"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        lines: list[str] = []
        reloaded = asyncio.Event()
        readers = [
            asyncio.create_task(_drain(proc.stdout, lines, reloaded)),
            asyncio.create_task(_drain(proc.stderr, lines, reloaded)),
        ]
        try:
            try:
                await _ready(f"http://127.0.0.1:{port}/readyz", proc, timeout_s=60)
            except (TimeoutError, AssertionError):
                raise AssertionError("not ready: " + "".join(lines)[-3000:]) from None
            proc.send_signal(signal.SIGHUP)
            async with RequestProducer.from_env(p.bootstrap) as producer:
                await producer.submit_and_wait(p.tasks["summ"], "hello", timeout_s=60)
            async with asyncio.timeout(30):
                await reloaded.wait()
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
            await asyncio.gather(*readers)
    text = "".join(lines)
    assert proc.returncode == 0, text[-2000:]
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert not leaked, f"secrets in the logs: {leaked}"
    # The store was named in the logs, with its password masked.
    assert "state store configured" in text
    assert "***" in text
    if where == "refused":
        assert "state store unavailable" in text

"""Start-up failures of a worker process: a metrics port in use is a config error, said
in one line with a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.workers.launch import run_workers
from tests.workers.conftest import Pipeline

MakePipeline = Callable[..., Awaitable[Pipeline]]


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

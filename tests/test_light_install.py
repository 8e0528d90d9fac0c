"""The client install: a service that only publishes requests and awaits results needs
aiokafka, pydantic (and pydantic-settings), orjson and structlog, nothing else; the whole
public API (`llmrouter.__all__`) loads with them; the wheel ships only `llmrouter`."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, decode, encode, results_topic
from llmrouter.schemas.topics import requests_topic
from tests.kafka_helpers import MakeConsumer, MakeProducer, MakeTopics

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 60

#: What the client must not need: the worker, CLI, eval and redis extras' packages.
BLOCKED = (
    "openai",
    "anthropic",
    "faststream",
    "typer",
    "rich",
    "click",
    "matplotlib",
    "aiohttp",
    "yaml",
    "aiocache",
    "prometheus_client",
    "sklearn",
    "redis",
)

# Installed first in the child interpreter: every import of a blocked package fails as if
# the package were not installed.
_BLOCKER = f"""
import importlib.abc, sys

BLOCKED = {BLOCKED!r}

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""

_CLIENT = """
import asyncio, sys

import llmrouter
from llmrouter import RequestProducer, ResultStatus

async def main(bootstrap: str, task: str) -> None:
    async with RequestProducer.from_env(bootstrap) as producer:
        waiter = await producer.waiter(task)
        request = producer.build(task, "is this light?", metadata={"from": "light client"})
        future = waiter.expect(request.request_id)
        await producer.send(request)
        print("sent", request.request_id, flush=True)
        result = await asyncio.wait_for(future, 60)
        assert result.status is ResultStatus.OK, result
        print("result", result.request_id, result.output, flush=True)
    for name in llmrouter.__all__:  # the whole public API loads on the base install
        getattr(llmrouter, name)
    loaded = sorted({m.partition(".")[0] for m in sys.modules} & set(BLOCKED))
    assert not loaded, loaded

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PYTHONWARNINGS"] = "error"
    return env


@pytest.mark.kafka
async def test_the_client_publishes_and_awaits_without_optional_packages(
    kafka_bootstrap: str,
    make_topics: MakeTopics,
    make_consumer: MakeConsumer,
    make_producer: MakeProducer,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> None:
    task = unique_name("light")
    await make_topics(requests_topic(task), results_topic(task))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _BLOCKER + _CLIENT,
        kafka_bootstrap,
        task,
        cwd=tmp_path,  # nothing of the checkout on sys.path: the installed package only
        env=_child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        sent = (await asyncio.wait_for(child.stdout.readline(), WAIT_S)).decode().split()
        assert sent[:1] == ["sent"], await _stderr(child)
        request_id = sent[1]

        # Play the router: read the request off the broker, answer it on the results topic.
        consumer = await make_consumer(requests_topic(task))
        batch = await consumer.getmany(timeout_ms=WAIT_S * 1000)
        records = [r for rs in batch.values() for r in rs]
        assert len(records) == 1
        request = decode(records[0].value, LLMRequest)
        assert request.request_id == request_id
        assert records[0].key == request_id.encode()
        assert request.metadata == {"from": "light client"}
        answer = LLMResult(
            request_id=request_id, task=task, status=ResultStatus.OK, output="yes", model="m"
        )
        producer = await make_producer()
        await producer.send_and_wait(results_topic(task), encode(answer), key=records[0].key)

        out, err = await asyncio.wait_for(child.communicate(), WAIT_S)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, err.decode()
    assert out.decode().split() == ["result", request_id, "yes"]


async def _stderr(child: asyncio.subprocess.Process) -> str:
    child.kill()
    _, err = await child.communicate()
    return err.decode()


def test_the_command_line_without_its_extra_is_one_clear_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCKER + "from llmrouter.cli import main\nmain()\n",
            "--help",
        ],
        cwd=tmp_path,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("llmrouter: error: the llmrouter command needs ")
    assert lines[0].endswith("pip install 'llmrouter[cli]'")


@pytest.mark.slow
def test_the_wheel_holds_only_the_llmrouter_package(tmp_path: Path) -> None:
    """Built from a copy of the checkout (tracked and new files), so no build output lands
    in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    source = tmp_path / "src"
    for raw in filter(None, listed):
        path = REPO / os.fsdecode(raw)
        target = source / os.fsdecode(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            target.symlink_to(os.readlink(path))
        elif path.is_file():
            shutil.copy2(path, target)
    out = tmp_path / "wheel"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("llmrouter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    version = wheel.name.split("-")[1]
    assert tops == {"llmrouter", f"llmrouter-{version}.dist-info", f"llmrouter-{version}.data"}
    assert "llmrouter/producers/client.py" in names
    assert "llmrouter/schemas/requests.py" in names
    data = {n.split(".data/", 1)[1] for n in names if ".data/" in n}
    assert all(d.startswith("data/share/llmrouter/") for d in data), data
    assert not [n for n in names if "/tests/" in n or n.startswith(("tests/", "bench/"))]
    metadata = zipfile.ZipFile(wheel).read(f"llmrouter-{version}.dist-info/METADATA").decode()
    base = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert sorted(r.split(">")[0].split("<")[0].split("=")[0] for r in base) == [
        "aiokafka",
        "orjson",
        "pydantic",
        "pydantic-settings",
        "structlog",
    ]

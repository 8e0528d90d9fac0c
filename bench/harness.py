"""What every benchmark shares: the machine, the local broker, child processes (always
stopped), unique topic names, a read_committed topic reader and percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.metadata
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from llmrouter.core import stats
from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.localkafka import LocalKafka, broker_ready, kafka_version
from llmrouter.schemas import loads

__all__ = [
    "REPO",
    "Child",
    "Machine",
    "RunNames",
    "TopicReader",
    "delete_topics",
    "ensure_topics",
    "first_dead",
    "local_broker",
    "machine_busy_s",
    "percentile",
    "process_cpu_s",
    "start_simulator",
    "start_workers",
    "started",
    "worker_env",
]

REPO = Path(__file__).resolve().parent.parent
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_PR_SET_PDEATHSIG = 1


# -- the machine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    nproc: int
    memory_gib: float
    cpu: str
    python: str
    kafka: str
    aiokafka: str
    system: str

    @classmethod
    def detect(cls) -> Machine:
        return cls(
            nproc=len(os.sched_getaffinity(0)),  # what `nproc` prints
            memory_gib=_meminfo_kib("MemTotal") / 1024**2,
            cpu=_cpu_model(),
            python=platform.python_version(),
            kafka=kafka_version(),
            aiokafka=importlib.metadata.version("aiokafka"),
            system=f"{platform.system()} {platform.release()}",
        )

    def describe(self) -> str:
        return (
            f"{self.nproc} CPUs ({self.cpu}), {self.memory_gib:.1f} GiB RAM, {self.system}, "
            f"Python {self.python}, Kafka {self.kafka} (local single node), "
            f"aiokafka {self.aiokafka}"
        )


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


# -- the broker ---------------------------------------------------------------------------


async def local_broker() -> tuple[str, int | None]:
    """(bootstrap servers, broker pid if known). Uses $KAFKA_BOOTSTRAP_SERVERS when it is a
    local broker that answers, else `llmrouter kafka start` (idempotent). The benchmarks
    only ever talk to this machine: a remote broker would measure the network instead."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if given:
        hosts = {hp.rsplit(":", 1)[0].strip("[]") for hp in given.split(",")}
        if not hosts <= _LOCAL_HOSTS:
            raise SystemExit(f"bench: KAFKA_BOOTSTRAP_SERVERS={given} is not local; unset it")
        if await broker_ready(given):
            return given, _local_broker_pid(given)
    local = LocalKafka()
    bootstrap = await asyncio.to_thread(local.start)
    return bootstrap, local.status().pid


def _local_broker_pid(bootstrap: str) -> int | None:
    """The pid of the `llmrouter kafka start` broker when `bootstrap` is that broker (its
    CPU is then measured too), else None."""
    status = LocalKafka().status()
    ports = {hp.rsplit(":", 1)[-1] for hp in bootstrap.split(",")}
    if status.running and status.bootstrap.rsplit(":", 1)[-1] in ports:
        return status.pid
    return None


async def delete_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Best effort: each run makes its own topics, so leave the broker as we found it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        async with asyncio.timeout(30):
            await admin.start()
            await admin.delete_topics(list(topics))
    except Exception as exc:
        print(f"  (could not delete bench topics: {exc!r})", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


@dataclass(frozen=True)
class RunNames:
    """Task, consumer-group and instance names unique to one run, so no run (and no other
    user of the broker) ever sees another's messages or offsets."""

    suffix: str

    @classmethod
    def new(cls) -> RunNames:
        return cls(uuid.uuid4().hex[:10])

    def task(self, kind: str) -> str:
        return f"bench-{kind}-{self.suffix}"

    @property
    def group_prefix(self) -> str:
        return f"bench-{self.suffix}-"

    @property
    def instance_id(self) -> str:
        return f"bench-{self.suffix}"


def worker_env(
    bootstrap: str,
    sim_url: str,
    task: str,
    names: RunNames,
    *,
    config: Path,
    partitions: int,
    max_in_flight: int | None = None,
) -> dict[str, str]:
    """The environment of a worker process that serves only this run's task, against the
    simulator, in consumer groups and transactional ids of its own."""
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        LLMROUTER_CONFIG=str(config),
        LLMROUTER_SIMULATOR_URL=sim_url,
        LLMROUTER_TASKS_PATTERN=task,  # task names are [a-z0-9-]: nothing to escape
        LLMROUTER_GROUP_PREFIX=names.group_prefix,
        LLMROUTER_INSTANCE_ID=names.instance_id,
        LLMROUTER_PARTITIONS=str(partitions),
        # Each process serves /metrics and /healthz as deployed, on a port of its own.
        LLMROUTER_METRICS_PORT="0",
        # A saturated run can leave thousands in flight: bound the drain on SIGTERM (what
        # is not committed is redone by the next owner, so nothing is lost either way).
        LLMROUTER_GRACE_S="5",
    )
    # None: the worker's own default, as deployed without tuning.
    env.pop("LLMROUTER_MAX_IN_FLIGHT", None)
    if max_in_flight is not None:
        env["LLMROUTER_MAX_IN_FLIGHT"] = str(max_in_flight)
    return env


# -- child processes ----------------------------------------------------------------------


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the bench itself is killed (even -9),
    # the kernel sends SIGTERM to its children, so nothing is left running.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy since boot (/proc/stat), to tell
    how much of a run's CPU went to processes that are not the benchmark's."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far (None when it is gone or unknown)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Child:
    """One subprocess with its output in a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else dict(os.environ)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_pos = 0
        self._log_buf = b""

    @property
    def pid(self) -> int:
        assert self._proc is not None, f"{self.name} was not started"
        return self._proc.pid

    def start(self) -> None:
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
                preexec_fn=_die_with_parent,
            )

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def peak_rss_mib(self) -> float | None:
        """VmHWM: the most resident memory the process ever had (read before stopping it)."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def last_error(self) -> str:
        """The last log line that mentions an error (for a one-line report of a crash)."""
        with contextlib.suppress(OSError):
            for line in reversed(self.log_path.read_text(errors="replace").splitlines()):
                if "error" in line.lower():
                    return line.strip()[:300]
        return f"exit code {self._proc.poll() if self._proc else None}"

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(text[-lines:])
        return ""

    async def wait_for(self, needle: str, *, timeout_s: float = 60.0) -> float:
        """Wait until the log, from where the last wait stopped reading, holds `needle`;
        returns time.monotonic() of the poll that saw it (polled every 5 ms)."""
        deadline = time.monotonic() + timeout_s
        raw = needle.encode()
        while True:
            with self.log_path.open("rb") as log:
                log.seek(self._log_pos)
                chunk = log.read()
            self._log_pos += len(chunk)
            # Keep a needle's length less one of tail: a line may be caught half written,
            # and a whole needle must not be found again by the next wait.
            data = self._log_buf + chunk
            self._log_buf = data[-(len(raw) - 1) :] if len(raw) > 1 else b""
            if raw in data:
                return time.monotonic()
            if not self.running():
                raise RuntimeError(f"{self.name} exited before logging {needle!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not log {needle!r}:\n{self.tail()}")
            await asyncio.sleep(0.005)

    async def logged(self, needle: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """The first JSON log line that holds `needle`, parsed (polled every 5 ms; it does
        not move where `wait_for` reads from)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(OSError):
                for line in self.log_path.read_text(errors="replace").splitlines():
                    if needle in line and line.startswith("{"):
                        with contextlib.suppress(ValueError):
                            event = loads(line)
                            if isinstance(event, dict):
                                return event
            if not self.running():
                raise RuntimeError(f"{self.name} exited before logging {needle!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not log {needle!r}:\n{self.tail()}")
            await asyncio.sleep(0.005)

    async def stop(self, timeout_s: float = 30.0, sig: int = signal.SIGTERM) -> int | None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc is not None else None
        proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(proc.wait, timeout_s)
        if proc.poll() is None:
            print(
                f"  ({self.name} ignored SIGTERM for {timeout_s:.0f} s; killing)", file=sys.stderr
            )
            proc.kill()
            proc.wait()
        return proc.returncode


def first_dead(children: Sequence[Child]) -> str | None:
    """`<name> exited: <its last error line>` for the first child no longer running."""
    for child in children:
        if not child.running():
            return f"{child.name} exited: {child.last_error()}"
    return None


@contextlib.asynccontextmanager
async def started(child: Child, stop_timeout_s: float = 30.0) -> AsyncIterator[Child]:
    """Start `child` and stop it on the way out, whatever happened in between."""
    try:
        child.start()
        yield child
    finally:
        await child.stop(stop_timeout_s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_workers(
    stack: contextlib.AsyncExitStack,
    env: Mapping[str, str],
    logs: Path,
    *,
    routers: int,
    split: bool,
    launcher: str = "llmrouter",
) -> list[Child]:
    """The pipeline's worker processes, started on `stack` (so they are always stopped).

    `split`: `llmrouter worker router` × `routers`, then `llmrouter worker classifier`, each
    its own process; else one `llmrouter run`. Routers start first and are waited for (their
    group settles before any classified record exists), so that the only thing left to
    start when the classifier owns its partitions is the work itself. `launcher` is the
    module run with `python -m` (bench.whatif: the same CLI with a provider change)."""
    commands = [["worker", "router"]] * routers + [["worker", "classifier"]] if split else [["run"]]
    children: list[Child] = []
    for index, command in enumerate(commands):
        name = command[-1] if command[-1] != "router" or routers == 1 else f"router-{index + 1}"
        argv = [sys.executable, "-m", launcher, *command]
        # One transactional id per process: two routers sharing one would fence each other.
        own_env = {**env, "LLMROUTER_INSTANCE_ID": f"{env['LLMROUTER_INSTANCE_ID']}-{name}"}
        child = Child(name, argv, logs / f"{name}-{uuid.uuid4().hex[:6]}.log", own_env)
        await stack.enter_async_context(started(child))
        children.append(child)
        if command[-1] == "router":
            await child.wait_for("partitions assigned", timeout_s=120)
    return children


@contextlib.asynccontextmanager
async def start_simulator(
    latency_ms: float | None, logs: Path, config: Path | None = None
) -> AsyncIterator[tuple[Child, str]]:
    """A provider simulator subprocess with a fixed latency (or the latencies of `config`,
    a simulator config file); yields (process, base URL)."""
    port = free_port()
    argv = [sys.executable, "-m", "llmrouter.simulator", "--port", str(port)]
    if latency_ms is not None:
        argv += ["--latency-ms", str(latency_ms)]
    if config is not None:
        argv += ["--config", str(config)]
    child = Child("simulator", argv, logs / f"simulator-{port}.log")
    async with started(child, stop_timeout_s=10):
        await child.wait_for("simulator listening on", timeout_s=60)
        yield child, f"http://127.0.0.1:{port}"


# -- reading topics -----------------------------------------------------------------------

#: (records of one fetch, time.monotonic() and time.time() when the fetch returned)
OnBatch = Callable[[list[ConsumerRecord[bytes, bytes]], float, float], None]


class TopicReader:
    """Every partition of `topics` from the beginning, read_committed (what a downstream
    consumer of the results sees), without a consumer group."""

    def __init__(self, bootstrap: str, topics: Iterable[str], on_batch: OnBatch) -> None:
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._on_batch = on_batch
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicReader:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p)
                for topic in self._topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            if not partitions:
                raise RuntimeError(f"no partitions for {self._topics}")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
        except BaseException:
            await consumer.stop()
            raise
        self._task = asyncio.create_task(self._read(consumer), name="bench-reader")
        return self

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=10_000)
            if batch:
                mono, wall = time.monotonic(), time.time()
                for records in batch.values():
                    self._on_batch(records, mono, wall)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def check(self) -> None:
        """Re-raise whatever stopped the reader (a dead reader would look like a stall)."""
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self._task.result()


# -- statistics ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The project's nearest-rank percentile, NaN when nothing was measured (tables print it)."""
    value = stats.percentile(values, q)
    return math.nan if value is None else value

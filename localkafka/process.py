"""The broker process: start it detached, stop it, and say whether it runs.

State lives in one directory:

    <state>/server.properties   broker config, rewritten on each fresh start
    <state>/log4j2.properties   logging: INFO and up to logs/server.log, WARN and up to kafka.out
    <state>/data/               KRaft metadata and topic data (formatted on the first start)
    <state>/logs/server.log     the broker's log
    <state>/kafka.out           the JVM's stdout/stderr: start-up failures land here
    <state>/kafka.pid           PID of the running broker
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from llmrouter.core.errors import LocalKafkaError
from llmrouter.localkafka.config import write_broker_config
from llmrouter.localkafka.jars import ensure_jars, find_java, kafka_version, tail_text
from llmrouter.localkafka.readiness import broker_ready, port_in_use, port_open, run_in_thread

__all__ = ["KafkaStatus", "LocalKafka", "default_state_dir", "new_cluster_id"]


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A random cluster id as Kafka writes one (a UUID in URL-safe base64), never starting
    with "-": the storage tool would read such an id as an option (one id in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def default_state_dir() -> Path:
    """`$LLMROUTER_KAFKA_HOME`, else `$XDG_STATE_HOME/llmrouter/kafka` (~/.local/state)."""
    if home := os.environ.get("LLMROUTER_KAFKA_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "llmrouter" / "kafka"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise LocalKafkaError(f"{name} must be a port number, got {raw!r}") from None


@dataclass(frozen=True)
class KafkaStatus:
    running: bool
    pid: int | None
    bootstrap: str
    state_dir: Path
    log_file: Path


class LocalKafka:
    """One local broker+controller node whose state lives in `state_dir`.

    Arguments left as None come from `LLMROUTER_KAFKA_HOME`, `LLMROUTER_KAFKA_PORT`,
    `LLMROUTER_KAFKA_CONTROLLER_PORT` and `LLMROUTER_KAFKA_HEAP_MB` (defaults: see
    `default_state_dir`, 9092, 9093, 1024).
    `host` is both the bind and the advertised address. `progress` receives one-line
    messages about slow steps (the CLI prints them on stderr).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        heap_mb: int | None = None,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        # Absolute: the JVM runs in the state dir, and the PID check matches its command line.
        self.state_dir = (
            (Path(state_dir) if state_dir else default_state_dir()).expanduser().absolute()
        )
        self.port = port if port is not None else _env_int("LLMROUTER_KAFKA_PORT", 9092)
        self.controller_port = (
            controller_port
            if controller_port is not None
            else _env_int("LLMROUTER_KAFKA_CONTROLLER_PORT", 9093)
        )
        if self.port == self.controller_port:
            raise LocalKafkaError(f"the broker and controller ports are both {self.port}")
        self.host = host
        # A dev broker holds a few thousand partitions; 512 MiB ran out of heap at that.
        self.heap_mb = heap_mb if heap_mb is not None else _env_int("LLMROUTER_KAFKA_HEAP_MB", 1024)
        self._progress = progress or (lambda _msg: None)

    # -- layout ------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def properties_file(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.state_dir / "log4j2.properties"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / "server.log"

    @property
    def console_file(self) -> Path:
        return self.state_dir / "kafka.out"

    # -- public API --------------------------------------------------------------------

    def status(self) -> KafkaStatus:
        pid = self._running_pid()
        return KafkaStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self._recorded_bootstrap() if pid is not None else self.bootstrap,
            state_dir=self.state_dir,
            log_file=self.log_file,
        )

    def start(self, timeout_s: float = 120) -> str:
        """Start the broker unless it already runs; return its bootstrap servers once it answers."""
        with self._locked():
            pid = self._running_pid()
            if pid is not None:
                bootstrap = self._recorded_bootstrap()
                self._wait_ready(pid, bootstrap, timeout_s)  # returns at once when it answers
                return bootstrap
            self.pid_file.unlink(missing_ok=True)
            self._check_ports_free()
            java = find_java()
            lib = ensure_jars(self._progress)
            self._write_config()
            if not (self.data_dir / "meta.properties").exists():
                self._format_storage(java, lib)
            self._progress(f"starting Kafka {kafka_version()} on {self.bootstrap}…")
            pid = self._spawn(java, lib)
            self.pid_file.write_text(f"{pid}\n")
            try:
                self._wait_ready(pid, self.bootstrap, timeout_s)
            except BaseException:
                self._terminate(pid, timeout_s=10)
                self.pid_file.unlink(missing_ok=True)
                raise
            return self.bootstrap

    def stop(self, timeout_s: float = 60) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after `timeout_s`); False if it was not running."""
        with self._locked():
            pid = self._running_pid()
            if pid is not None:
                self._terminate(pid, timeout_s)
            self.pid_file.unlink(missing_ok=True)
            return pid is not None

    # -- process -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise start/stop across processes (two terminals, parallel test sessions)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._is_our_broker(pid) else None

    def _is_our_broker(self, pid: int) -> bool:
        """Alive, and (where /proc tells) running our config: guards against PID reuse."""
        if not _alive(pid):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            return not Path("/proc/self").exists()  # no procfs (macOS): trust the PID
        except OSError:
            return False
        return b"kafka.Kafka" in cmdline and os.fsencode(self.properties_file) in cmdline

    def _recorded_bootstrap(self) -> str:
        """The address the running broker advertises (the env may have changed since)."""
        with contextlib.suppress(OSError):
            for line in self.properties_file.read_text().splitlines():
                if line.startswith("advertised.listeners="):
                    return line.split("://", 1)[1].split(",", 1)[0]
        return self.bootstrap

    def _terminate(self, pid: int, timeout_s: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # Kafka shuts down cleanly on SIGTERM
        if _wait_dead(pid, timeout_s):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait_dead(pid, 10):
            raise LocalKafkaError(f"Kafka (pid {pid}) did not exit after SIGKILL")

    def _check_ports_free(self) -> None:
        for port, what in ((self.port, "broker"), (self.controller_port, "controller")):
            if not port_in_use(self.host, port):
                continue
            if port == self.port and run_in_thread(broker_ready(f"{self.host}:{port}", 2)):
                raise LocalKafkaError(
                    f"another Kafka broker (not the one in {self.state_dir}) already listens on "
                    f"{self.host}:{port}: use it (KAFKA_BOOTSTRAP_SERVERS={self.host}:{port}), "
                    "stop it, or set LLMROUTER_KAFKA_PORT to another port"
                )
            raise LocalKafkaError(
                f"port {port} on {self.host} ({what} port) is already in use by another "
                "program: stop it, or choose free ports with LLMROUTER_KAFKA_PORT and "
                "LLMROUTER_KAFKA_CONTROLLER_PORT"
            )

    def _write_config(self) -> None:
        write_broker_config(
            host=self.host,
            port=self.port,
            controller_port=self.controller_port,
            data_dir=self.data_dir,
            properties_file=self.properties_file,
            log4j_file=self.log4j_file,
            log_file=self.log_file,
        )

    def _jvm_cmd(self, java: str, lib: Path, heap_mb: int) -> list[str]:
        return [
            java,
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 128)}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            str(lib / "*"),
        ]

    def _format_storage(self, java: str, lib: Path) -> None:
        cluster_id = new_cluster_id()
        cmd = [
            *self._jvm_cmd(java, lib, 256),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.properties_file),
        ]
        run = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
        )
        if run.returncode != 0:
            raise LocalKafkaError(
                f"formatting Kafka storage in {self.data_dir} failed (exit {run.returncode}):\n"
                + tail_text(run.stdout + run.stderr)
            )

    def _spawn(self, java: str, lib: Path) -> int:
        """Launch the broker detached: new session, and reparented away from us.

        A tiny intermediate Python process starts the JVM and exits, so the broker is
        never our child: it outlives us, never becomes our zombie, and the Popen object
        we would otherwise have to keep (or leak with a ResourceWarning) does not exist.
        """
        cmd = [*self._jvm_cmd(java, lib, self.heap_mb), "kafka.Kafka", str(self.properties_file)]
        with open(self.console_file, "wb") as out:
            run = subprocess.run(
                [sys.executable, "-c", _SPAWNER, *cmd],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=out,
                cwd=self.state_dir,
                start_new_session=True,
                timeout=60,
                check=False,
            )
        try:
            return int(run.stdout)
        except ValueError:
            raise LocalKafkaError(
                f"could not launch {java}: " + _tail_file(self.console_file)
            ) from None

    def _wait_ready(self, pid: int, bootstrap: str, timeout_s: float) -> None:
        """Poll until the broker answers a metadata request with itself as a live broker."""
        host, _, port = bootstrap.rpartition(":")
        deadline = time.monotonic() + timeout_s
        while True:
            if not _alive(pid):
                raise LocalKafkaError(
                    f"Kafka exited during start-up; last lines of {self.console_file}:\n"
                    + self._failure_tail()
                )
            if port_open(host, int(port)) and run_in_thread(broker_ready(bootstrap)):
                return
            if time.monotonic() > deadline:
                raise LocalKafkaError(
                    f"Kafka did not answer on {bootstrap} within {timeout_s:.0f}s; "
                    f"last lines of its log:\n" + self._failure_tail()
                )
            time.sleep(0.25)

    def _failure_tail(self) -> str:
        """The JVM console (fatal errors, WARN+) or, when that is empty, the broker log."""
        console = _tail_file(self.console_file)
        return console if console.strip() else _tail_file(self.log_file)


#: Run by a throwaway interpreter: start the JVM in the inherited session, print its PID, exit.
_SPAWNER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=2, stderr=2)\n"
    "print(p.pid, flush=True)\n"
    "os._exit(0)\n"
)


def _alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie counts as dead (PID 1 in containers may never reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _wait_dead(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _tail_file(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            return tail_text(fh.read().decode("utf-8", "replace"), lines)
    except OSError:
        return f"({path} is missing)"

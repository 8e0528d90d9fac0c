"""A local single-node Apache Kafka (KRaft) for development, tests and the demo, without Docker.

The broker is the real Apache Kafka JVM program. Its jars come from Maven Central through
the packaged `pom.xml` (assembled once, then cached), and it runs detached from the Python
process that started it, with its config, data, logs and PID file in one state directory:

    <state>/server.properties   broker config, rewritten on each fresh start
    <state>/log4j2.properties   logging: INFO and up to logs/server.log, WARN and up to kafka.out
    <state>/data/               KRaft metadata and topic data (formatted on the first start)
    <state>/logs/server.log     the broker's log
    <state>/kafka.out           the JVM's stdout/stderr: start-up failures land here
    <state>/kafka.pid           PID of the running broker
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from llmrouter.core.errors import LocalKafkaError

__all__ = [
    "SINGLE_NODE_SETTINGS",
    "KafkaStatus",
    "LocalKafka",
    "broker_ready",
    "default_state_dir",
    "docker_env",
    "jar_cache_dir",
    "kafka_version",
    "wait_for_broker",
]

_T = TypeVar("_T")

#: What to install when the tools are missing, and the way around them.
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"
DOCKER_HINT = "or run `docker compose up kafka` instead"
MIN_JAVA = 17

#: Broker settings a single node needs (used for the launcher and the test container).
SINGLE_NODE_SETTINGS: dict[str, str] = {
    # Internal topics default to replication factor 3; on one node the group and
    # transaction coordinators would wait forever for replicas that cannot exist.
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    # Fewer internal partitions (defaults 50) make the first consumer group and the
    # first transaction start in a second instead of many on a small machine.
    "offsets.topic.num.partitions": "10",
    "transaction.state.log.num.partitions": "10",
    "share.coordinator.state.topic.num.partitions": "10",
    # Tests and the demo join groups constantly; the 3 s default delay only adds latency.
    "group.initial.rebalance.delay.ms": "0",
    # Topics are created explicitly with the SPEC's partition counts (`ensure_topics`).
    # Auto-creation would silently make a mistyped topic with default settings, and a
    # consumer that subscribes before its producer would race it into existence.
    "auto.create.topics.enable": "false",
}


def docker_env(settings: Mapping[str, str] = SINGLE_NODE_SETTINGS) -> dict[str, str]:
    """Broker settings as `apache/kafka` image variables (`a.b_c` -> `KAFKA_A_B__C`)."""
    return {
        "KAFKA_" + k.replace("_", "__").replace(".", "_").upper(): v for k, v in settings.items()
    }


@functools.cache
def _pom_text() -> str:
    return resources.files("llmrouter.localkafka").joinpath("pom.xml").read_text(encoding="utf-8")


@functools.cache
def kafka_version() -> str:
    """The Kafka version pinned in the packaged pom.xml (the one place it is written)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.fromstring(_pom_text()).find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise LocalKafkaError("the packaged pom.xml has no <kafka.version> property")
    return (node.text or "").strip()


def default_state_dir() -> Path:
    """`$LLMROUTER_KAFKA_HOME`, else `$XDG_STATE_HOME/llmrouter/kafka` (~/.local/state)."""
    if home := os.environ.get("LLMROUTER_KAFKA_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "llmrouter" / "kafka"


def jar_cache_dir(version: str | None = None) -> Path:
    """Where the broker's jars are cached: `$XDG_CACHE_HOME/llmrouter/kafka-<version>/lib`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmrouter" / f"kafka-{version or kafka_version()}" / "lib"


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

    Arguments left as None come from `LLMROUTER_KAFKA_HOME`, `LLMROUTER_KAFKA_PORT` and
    `LLMROUTER_KAFKA_CONTROLLER_PORT` (defaults: see `default_state_dir`, 9092, 9093).
    `host` is both the bind and the advertised address. `progress` receives one-line
    messages about slow steps (the CLI prints them on stderr).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        heap_mb: int = 512,
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
        self.heap_mb = heap_mb
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
            if not _port_in_use(self.host, port):
                continue
            if port == self.port and _run_in_thread(broker_ready(f"{self.host}:{port}", 2)):
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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        listener = f"PLAINTEXT://{self.bootstrap}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # Static voters: no dynamic quorum to bootstrap, hence `format` without --standalone.
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"{listener},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": listener,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            **SINGLE_NODE_SETTINGS,
        }
        _write_atomic(
            self.properties_file,
            "# Written by `llmrouter kafka start`; edits are lost on the next start.\n"
            + "".join(f"{k}={v}\n" for k, v in settings.items()),
        )
        _write_atomic(self.log4j_file, _LOG4J2.format(log_file=self.log_file))

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
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
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
                + _tail_text(run.stdout + run.stderr)
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
            if _port_open(host, int(port)) and _run_in_thread(broker_ready(bootstrap)):
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


def find_java() -> str:
    """`$JAVA_HOME/bin/java` or `java` on PATH, checked to be Java 17 or newer."""
    java: str | None = None
    if home := os.environ.get("JAVA_HOME"):
        candidate = Path(home) / "bin" / "java"
        java = str(candidate) if os.access(candidate, os.X_OK) else None
    java = java or shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            f"Java {MIN_JAVA}+ is needed to run Kafka {kafka_version()} and none was found on "
            f"PATH or in JAVA_HOME: install it (`{INSTALL_HINT}`), {DOCKER_HINT}"
        )
    try:
        run = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalKafkaError(f"could not run {java} -version: {exc}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', run.stderr + run.stdout)
    major = 0
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_402" is Java 8
            major = int(match.group(2))
    if major < MIN_JAVA:
        found = f"Java {major}" if major else "a Java of unknown version"
        raise LocalKafkaError(
            f"Kafka {kafka_version()} needs Java {MIN_JAVA}+, found {found} at {java}: "
            f"install a newer one (`{INSTALL_HINT}`) and set JAVA_HOME, {DOCKER_HINT}"
        )
    return java


def ensure_jars(progress: Callable[[str], None] = lambda _msg: None) -> Path:
    """The cached jar directory, assembled with Maven on first use.

    Maven copies into a temporary sibling directory that is renamed into place only
    when complete, so an interrupted download never leaves a half-filled cache.
    """
    version = kafka_version()
    lib = jar_cache_dir(version)
    if lib.is_dir():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            f"Maven (mvn) is needed once to download Kafka {version} from Maven Central and "
            f"was not found: install it (`{INSTALL_HINT}`), {DOCKER_HINT}"
        )
    progress(f"assembling Kafka {version} from Maven Central (first run only)…")
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent, prefix=".assemble-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(_pom_text(), encoding="utf-8")  # Maven writes target/ beside the pom
        out = Path(tmp) / "lib"
        run = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={out}",
                "-DincludeScope=runtime",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
        if run.returncode != 0 or not any(out.glob("kafka_2.13-*.jar")):
            raise LocalKafkaError(
                f"Maven could not download Kafka {version} (exit {run.returncode}):\n"
                + _tail_text(run.stdout + run.stderr)
            )
        try:
            out.rename(lib)
        except OSError:
            if not lib.is_dir():  # else a concurrent run finished first: use its copy
                raise
    return lib


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
    while not (_port_open(host, int(port)) and _run_in_thread(broker_ready(bootstrap))):
        if is_alive is not None and not is_alive():
            raise LocalKafkaError(f"the Kafka broker for {bootstrap} exited during start-up")
        if time.monotonic() > deadline:
            raise LocalKafkaError(f"Kafka did not answer on {bootstrap} within {timeout_s:.0f}s")
        time.sleep(0.25)


# -- helpers -------------------------------------------------------------------------------

#: Run by a throwaway interpreter: start the JVM in the inherited session, print its PID, exit.
_SPAWNER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=2, stderr=2)\n"
    "print(p.pid, flush=True)\n"
    "os._exit(0)\n"
)

_LOG4J2 = """\
# Written by `llmrouter kafka start`. Quiet console (it goes to kafka.out), full log to file.
status = warn
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.console.ref = CONSOLE
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = warn
"""


def _run_in_thread(coro: Coroutine[Any, Any, _T]) -> _T:
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


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # SO_REUSEADDR as the JVM sets it: TIME_WAIT leftovers do not count as "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _tail_text(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _tail_file(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            return _tail_text(fh.read().decode("utf-8", "replace"), lines)
    except OSError:
        return f"({path} is missing)"

"""The broker's program: the Kafka jars, assembled once from Maven Central through the
packaged `pom.xml` (the one place the Kafka version is written), and a Java to run them."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from llmrouter.core.errors import LocalKafkaError

__all__ = [
    "DOCKER_HINT",
    "INSTALL_HINT",
    "MIN_JAVA",
    "ensure_jars",
    "find_java",
    "jar_cache_dir",
    "kafka_version",
    "pom_text",
    "tail_text",
]

#: What to install when the tools are missing, and the way around them.
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"
DOCKER_HINT = "or run `docker compose up kafka` instead"
MIN_JAVA = 17


@functools.cache
def pom_text() -> str:
    return resources.files("llmrouter.localkafka").joinpath("pom.xml").read_text(encoding="utf-8")


@functools.cache
def kafka_version() -> str:
    """The Kafka version pinned in the packaged pom.xml (the one place it is written)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.fromstring(pom_text()).find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise LocalKafkaError("the packaged pom.xml has no <kafka.version> property")
    return (node.text or "").strip()


def jar_cache_dir(version: str | None = None) -> Path:
    """Where the broker's jars are cached: `$XDG_CACHE_HOME/llmrouter/kafka-<version>/lib`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmrouter" / f"kafka-{version or kafka_version()}" / "lib"


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
        pom.write_text(pom_text(), encoding="utf-8")  # Maven writes target/ beside the pom
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
                + tail_text(run.stdout + run.stderr)
            )
        try:
            out.rename(lib)
        except OSError:
            if not lib.is_dir():  # else a concurrent run finished first: use its copy
                raise
    return lib


def tail_text(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])

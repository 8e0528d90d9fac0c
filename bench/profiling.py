"""`--profile`: sample a worker process with py-spy while a benchmark runs, and say where
its CPU time goes (self time by library and by function).

py-spy attaches by pid and writes collapsed stacks. It pauses the worker for each sample
(about 1-2 % at 100 Hz): `--nonblocking` would not, but then a quarter of the stacks come
out torn, which misattributes exactly the time we want to find. `--gil` keeps only
samples of the thread holding the GIL (idle pool threads would otherwise count as busy),
so the sample count over the expected count is the share of one core the process kept
busy running Python.
"""

from __future__ import annotations

import re
import shutil
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import REPO, Child

__all__ = ["Profile", "Profiler", "Recording", "summarise"]

RATE_HZ = 100
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")

# py-spy names files relative to their sys.path entry (`aiokafka/consumer/fetcher.py`,
# sometimes just `runtime.py`), so a frame's area comes from its first path component.
_THIRD_PARTY = {
    "aiokafka": "aiokafka (Kafka client)",
    "openai": "openai SDK",
    "anthropic": "anthropic SDK",
    "httpx2": "httpx2/httpcore2/anyio (SDK HTTP stack)",
    "httpcore2": "httpx2/httpcore2/anyio (SDK HTTP stack)",
    "anyio": "httpx2/httpcore2/anyio (SDK HTTP stack)",
    "h11": "httpx2/httpcore2/anyio (SDK HTTP stack)",
    "aiohttp": "aiohttp",
    "aiohappyeyeballs": "aiohttp",
    "multidict": "aiohttp",
    "yarl": "aiohttp",
    "opentelemetry": "OpenTelemetry (tracing)",
    "pydantic": "pydantic (validation, JSON)",
    "pydantic_core": "pydantic (validation, JSON)",
    "structlog": "structlog + logging",
    "logging": "structlog + logging",
    "prometheus_client": "prometheus_client",
    "asyncio": "asyncio event loop",
    "uvloop": "asyncio event loop",
    "selectors.py": "asyncio event loop",
}
_PRODUCT_DIRS = ("router", "workers", "schemas", "producers", "llmrouter")
_PRODUCT_FILES = {path.name for pkg in _PRODUCT_DIRS for path in (REPO / pkg).rglob("*.py")} - {
    "__init__.py",
    "__main__.py",
}


@dataclass
class Profile:
    label: str
    seconds: float
    samples: int
    by_area: Counter[str] = field(default_factory=Counter)
    by_function: Counter[str] = field(default_factory=Counter)
    #: inclusive samples of frames whose function name matches one of these
    inclusive: Counter[str] = field(default_factory=Counter)

    @property
    def busy_share(self) -> float:
        """Share of one core the process was on-CPU (py-spy drops idle samples)."""
        expected = self.seconds * RATE_HZ
        return self.samples / expected if expected else 0.0

    def top_areas(self, n: int = 8) -> list[tuple[str, float]]:
        return (
            [(k, v / self.samples) for k, v in self.by_area.most_common(n)] if self.samples else []
        )

    def inclusive_order(self) -> list[str]:
        """The inclusive buckets that were hit, in the order they are declared (a call site,
        then the parts of it)."""
        return [name for name in _INCLUSIVE if self.inclusive[name]]

    def top_functions(self, n: int = 10) -> list[tuple[str, float]]:
        if not self.samples:
            return []
        return [(k, v / self.samples) for k, v in self.by_function.most_common(n)]


#: inclusive buckets worth knowing for the product: which call sites hold the CPU
_INCLUSIVE = {
    "RouterHandler (decode, route, encode)": re.compile(r"^RouterHandler\.__call__ "),
    "OpenAIProvider.complete: the provider call": re.compile(r"^OpenAIProvider\.complete "),
    "of which the replayed request (JsonEndpoint.post: light HTTP client, orjson)": re.compile(
        r"^JsonEndpoint\.post "
    ),
    "of which the SDK's parameter transform": re.compile(r"^async_maybe_transform "),
    "of which the SDK's request method (post → request)": re.compile(r"^AsyncAPIClient\.request "),
    "of which the SDK building the request": re.compile(r"^BaseClient\._build_request "),
    "of which the HTTP transport": re.compile(r"handle_async_request "),
    "of which the SDK parsing the response": re.compile(r"^AsyncAPIClient\._process_response "),
    "ClassifierHandler": re.compile(r"^ClassifierHandler\.__call__ "),
    "transaction flush (Publisher.flush)": re.compile(r"^Publisher\.flush "),
    "structlog calls": re.compile(r"\(structlog/"),
    "OpenTelemetry spans": re.compile(r"\(opentelemetry/"),
    "prometheus_client": re.compile(r"\(prometheus_client/"),
    "consumer fetch (getmany)": re.compile(r"^AIOKafkaConsumer\.getmany "),
}


def summarise(raw: Path, label: str, seconds: float) -> Profile:
    """Collapsed stacks (`frame;frame;... count`) → self time by area and function."""
    profile = Profile(label, seconds, 0)
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        profile.samples += count
        leaf = _FRAME.match(frames[-1])
        func, file = (leaf["func"], leaf["file"]) if leaf else (frames[-1], "")
        profile.by_area[_area(file)] += count
        profile.by_function[f"{func} ({_short(file)})"] += count
        for name, pattern in _INCLUSIVE.items():
            if any(pattern.search(frame) for frame in frames):
                profile.inclusive[name] += count
    return profile


def _area(file: str) -> str:
    head = file.split("/", 1)[0]
    if head in _THIRD_PARTY:
        return _THIRD_PARTY[head]
    if head in _PRODUCT_DIRS or file in _PRODUCT_FILES:
        return "product code (router/, workers/, schemas/)"
    return "other (interpreter, stdlib)"


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file.rsplit("/main/", 1)[-1]


class Recording:
    """One py-spy process sampling one worker until `finish`."""

    def __init__(self, profiler: Profiler, child: Child, out: Path, label: str) -> None:
        self._profiler = profiler
        self._child = child
        self._out = out
        self._label = label
        self._started = time.monotonic()

    async def finish(self) -> None:
        seconds = time.monotonic() - self._started
        await self._child.stop(timeout_s=30, sig=signal.SIGINT)  # py-spy writes on SIGINT
        if self._out.exists():
            self._profiler.profiles.append(summarise(self._out, self._label, seconds))
        else:
            print(f"  (py-spy wrote no profile:\n{self._child.tail()})", file=sys.stderr)


class Profiler:
    """Collects one Profile per attached benchmark run into `profiles`."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.profiles: list[Profile] = []
        exe = Path(sys.executable).with_name("py-spy")
        found = str(exe) if exe.exists() else shutil.which("py-spy")
        if found is None:
            raise SystemExit("bench: --profile needs py-spy (.venv/bin/pip install py-spy)")
        self._py_spy = found

    def attach(self, pid: int, label: str) -> Recording:
        safe = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        out = self.out_dir / f"{safe}-{pid}.txt"
        argv = [self._py_spy, "record", "--pid", str(pid), "--rate", str(RATE_HZ)]
        argv += ["--gil", "--format", "raw", "-o", str(out)]
        child = Child(f"py-spy {pid}", argv, self.out_dir / f"{safe}-{pid}.log")
        child.start()
        return Recording(self, child, out, label)

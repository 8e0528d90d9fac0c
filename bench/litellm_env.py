"""The LiteLLM baseline's virtualenv: LiteLLM is not a dependency of the product (and must
not share its environment), so the bench makes a virtualenv of its own for it, once, in
`~/.cache/llmrouter/bench-litellm-venv`, with the pinned versions below.

When the virtualenv cannot be made (no network to the package index, a failed build),
the LiteLLM system is reported as not available, with the reason; the bench goes on.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PINS", "LiteLLMEnv", "litellm_env", "venv_dir"]

#: what the virtualenv holds: LiteLLM, and the consumer loop's own dependencies at the
#: versions the product's environment has
PINS = ("litellm==1.110.2", "aiokafka==0.14.0", "orjson==3.11.4")
#: a generous bound on making it from nothing (about half a minute on a quiet machine)
INSTALL_TIMEOUT_S = 600.0
_MARKER = "bench-pins.txt"


@dataclass(frozen=True)
class LiteLLMEnv:
    """The virtualenv's interpreter, or why there is none."""

    python: Path | None
    reason: str = ""


def venv_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "llmrouter" / "bench-litellm-venv"


def _ready(venv: Path) -> bool:
    marker = venv / _MARKER
    python = venv / "bin" / "python"
    return python.exists() and marker.exists() and marker.read_text().split() == list(PINS)


def _run(argv: list[str], log: Path, timeout_s: float) -> str | None:
    """None when `argv` succeeded, else a one-line reason (its output goes to `log`)."""
    with log.open("ab") as out:
        try:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(argv[1:4])}` failed: {exc}"
    if done.returncode == 0:
        return None
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    last = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
    return f"`{' '.join(argv[1:4])}` exited {done.returncode}: {last.strip()[:200]}"


def make_env(venv: Path, log: Path, timeout_s: float = INSTALL_TIMEOUT_S) -> LiteLLMEnv:
    """The virtualenv at `venv`, made (or remade, when its pins differ) if needed."""
    python = venv / "bin" / "python"
    if _ready(venv):
        return LiteLLMEnv(python)
    print(f"  making the LiteLLM virtualenv in {venv} ({', '.join(PINS)}) ...", flush=True)
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return LiteLLMEnv(None, f"cannot make {venv.parent}: {exc}")
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *PINS],
    ]
    for argv in steps:
        if (failure := _run(argv, log, timeout_s)) is not None:
            return LiteLLMEnv(None, failure)
    (venv / _MARKER).write_text("\n".join(PINS) + "\n")
    return LiteLLMEnv(python)


async def litellm_env(log: Path) -> LiteLLMEnv:
    """`make_env` in the default place, off the event loop."""
    return await asyncio.to_thread(make_env, venv_dir(), log)

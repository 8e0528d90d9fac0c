"""Optional dependencies: which `llmrouter[...]` extra installs each, and one way to import
them that says so when one is missing.

The base install is the client library (aiokafka, pydantic, orjson, structlog); everything
else comes with an extra (see pyproject.toml, which `tests/core/test_optional.py` checks this
table against). Import such a package through `require`, or, at the top of a module that
cannot work without it, catch the ImportError and hand it to `exit_for_missing`.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, NoReturn

from llmrouter.core.errors import LLMRouterError, MissingDependency

__all__ = [
    "EXTRAS",
    "Provider",
    "exit_for_missing",
    "install_hint",
    "png_chart",
    "pyplot",
    "require",
]


class Provider(NamedTuple):
    """The distribution that provides an import name, and the extra that installs it."""

    distribution: str
    extra: str


#: Import name (top level) → who provides it.
EXTRAS: Mapping[str, Provider] = {
    "aiocache": Provider("aiocache", "worker"),
    "aiohttp": Provider("aiohttp", "worker"),
    "anthropic": Provider("anthropic", "worker"),
    "faststream": Provider("faststream", "worker"),
    "matplotlib": Provider("matplotlib", "eval"),
    "numpy": Provider("numpy", "learn"),
    "openai": Provider("openai", "worker"),
    "prometheus_client": Provider("prometheus-client", "worker"),
    "redis": Provider("redis", "redis"),
    "rich": Provider("rich", "cli"),
    "sklearn": Provider("scikit-learn", "learn"),
    "typer": Provider("typer", "cli"),
    "yaml": Provider("pyyaml", "worker"),
}


def install_hint(extra: str) -> str:
    return f"pip install 'llmrouter[{extra}]'"


def _message(top: str, extra: str, purpose: str | None) -> str:
    provider = EXTRAS.get(top)
    distribution = provider.distribution if provider else top
    needs = f"{purpose} needs" if purpose else "needs"
    return f"{needs} {distribution}, which is not installed: {install_hint(extra)}"


def require(module: str, *, extra: str | None = None, purpose: str | None = None) -> ModuleType:
    """Import `module`, or raise MissingDependency naming the extra that installs it.

    `extra` defaults to the one `EXTRAS` lists for the module's top-level name; `purpose`
    says what needs it ("--plot", "the llmrouter command"). An ImportError from inside an
    installed package (a broken install, not a missing one) propagates unchanged.
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != top:
            raise
        chosen = extra or (EXTRAS[top].extra if top in EXTRAS else "all")
        raise MissingDependency(
            _message(top, chosen, purpose), module=module, extra=chosen
        ) from None


def exit_for_missing(exc: ModuleNotFoundError, *, command: str = "llmrouter") -> NoReturn:
    """For a command's entry module: one line on stderr naming the extra, and exit 1.

    Re-raises `exc` when the missing module is not one an extra provides (a bug, not an
    incomplete install).
    """
    top = (exc.name or "").partition(".")[0]
    if top not in EXTRAS:
        raise exc
    message = _message(top, EXTRAS[top].extra, f"the {command} command")
    print(f"{command}: error: {message}", file=sys.stderr)
    raise SystemExit(1)


def pyplot(purpose: str = "--plot") -> Any:
    """matplotlib's pyplot on the file-only backend (charts are written, never shown)."""
    matplotlib = require("matplotlib", purpose=purpose)
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", purpose=purpose)


@contextlib.contextmanager
def png_chart(
    path: Path,
    *,
    panels: int = 1,
    size_in: tuple[float, float] = (9, 5.5),
    dpi: int = 150,
    purpose: str = "--plot",
) -> Iterator[Any]:
    """The axes of a new chart (a tuple of `panels` side by side when more than one),
    written to `path` as a PNG when the block ends; LLMRouterError when the file cannot be
    written. The figure is closed either way."""
    plt = pyplot(purpose)
    fig, axes = plt.subplots(1, panels, figsize=size_in, dpi=dpi, layout="constrained")
    try:
        yield tuple(axes) if panels > 1 else axes
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    except OSError as exc:
        raise LLMRouterError(f"cannot write the chart to {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)

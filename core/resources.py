"""Where the shipped example config and eval sets are: beside the source in a checkout
(editable installs), else in `<prefix>/share/llmrouter/` where a wheel puts them."""

from __future__ import annotations

import sysconfig
from pathlib import Path

__all__ = ["shared_path"]

_CHECKOUT = Path(__file__).resolve().parents[1]


def shared_path(relative: str) -> Path:
    """`config/example.yaml` or `evals` as a path that exists, if any does."""
    in_checkout = _CHECKOUT / relative
    if in_checkout.exists():
        return in_checkout
    installed = Path(sysconfig.get_path("data")) / "share" / "llmrouter" / relative
    return installed if installed.exists() else in_checkout

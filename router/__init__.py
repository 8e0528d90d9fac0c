"""Routing decisions and the calls to models: config, limits, retries, breakers, cache, budgets.

`RoutingEngine` is loaded on first use: the engine brings the provider clients with it, and code
that only reads the config (the CLI's checks, reports) need not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmrouter.router.config import RouterConfig
from llmrouter.router.config_loader import load_config

if TYPE_CHECKING:
    from llmrouter.router.engine import RoutingEngine

__all__ = ["RouterConfig", "RoutingEngine", "load_config"]


def __getattr__(name: str) -> Any:
    if name == "RoutingEngine":
        from llmrouter.router.engine import RoutingEngine

        return RoutingEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

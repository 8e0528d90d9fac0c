"""Routing decisions and the calls to models: config, limits, retries, breakers, cache, budgets."""

from router.config import RouterConfig
from router.config_loader import load_config
from router.engine import Router

__all__ = ["Router", "RouterConfig", "load_config"]

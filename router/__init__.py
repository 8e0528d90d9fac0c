"""Routing decisions and the calls to models: config, limits, retries, breakers, cache, budgets."""

from llmrouter.router.config import RouterConfig
from llmrouter.router.config_loader import load_config
from llmrouter.router.engine import Router

__all__ = ["Router", "RouterConfig", "load_config"]

"""The typed keys under which the simulator's state hangs on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from llmrouter.simulator.engine import Engine

ENGINE: web.AppKey[Engine] = web.AppKey("simulator_engine", Engine)

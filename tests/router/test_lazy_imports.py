"""A router that needs no store and no response cache never loads the Redis client (9 MiB
of its memory): redis-py comes in only with a store, or with a cache's first lookup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.factories import catalog, routing_config, static_route

_PROBE = """
import sys
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import load_config
engine = RoutingEngine(load_config(sys.argv[1]))
print(sorted(m for m in ("redis", "aiocache") if m in sys.modules))
"""


def _loaded(tmp_path: Path) -> str:
    """The Redis modules loaded once a router's engine is made for a one-model config."""
    path = tmp_path / "config.yaml"
    path.write_text(routing_config(models=catalog("cheap"), tasks={"qa": static_route("cheap")}))
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-test"},
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_router_without_store_or_cache_never_imports_redis(tmp_path: Path) -> None:
    assert _loaded(tmp_path) == "[]"

"""One place for the routing configs the tests build: the model catalog they route over, and
a whole config with overrides, as the YAML text that `parse_config`, the `make_router`
fixture and the workers read.

    routing_config(
        models=catalog("cheap", "big", big={"max_concurrency": 1}),
        defaults={"cache": {"enabled": False}},
        tasks={"qa": static_route("big", budget={"daily_usd": 0.05, "downgrade_to": "cheap"})},
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import yaml

__all__ = ["CATALOG", "catalog", "routing_config", "static_route", "with_route"]

#: The models most tests route over, by the names the configs give them. The simulator
#: answers every one of these model ids (its profiles name them); prices are per 1k tokens.
CATALOG: Final[Mapping[str, Mapping[str, Any]]] = {
    "nano": {
        "provider": "openai",
        "model_id": "gpt-4o-mini",
        "input_usd_per_1k": 0.00015,
        "output_usd_per_1k": 0.0006,
    },
    "cheap": {
        "provider": "anthropic",
        "model_id": "claude-3-haiku-20240307",
        "input_usd_per_1k": 0.00025,
        "output_usd_per_1k": 0.00125,
    },
    "mid": {
        "provider": "openai",
        "model_id": "gpt-3.5-turbo-0125",
        "input_usd_per_1k": 0.0005,
        "output_usd_per_1k": 0.0015,
    },
    "big": {
        "provider": "openai",
        "model_id": "gpt-4-turbo-2024-04-09",
        "input_usd_per_1k": 0.01,
        "output_usd_per_1k": 0.03,
    },
}


def catalog(*names: str, **changes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The catalog's models `names` (every one when none is named), in that order, each
    spec updated with `changes[name]`: `catalog("cheap", "mid", cheap={"rpm": 600})`."""
    chosen = names or tuple(CATALOG)
    unknown = (set(chosen) | set(changes)) - set(CATALOG)
    assert not unknown, f"not in tests/factories.py's CATALOG: {sorted(unknown)}"
    assert set(changes) <= set(chosen), f"changes for models not chosen: {sorted(changes)}"
    return {name: {**CATALOG[name], **changes.get(name, {})} for name in chosen}


def static_route(model: str, *fallback: str, **task: Any) -> dict[str, Any]:
    """A task that routes every request to `model` (then `fallback`), with the task's other
    keys (`budget`, `prompt`, ...) as given."""
    route: dict[str, Any] = {"strategy": "static", "model": model}
    if fallback:
        route["fallback"] = list(fallback)
    return {"route": route, **task}


def routing_config(
    *,
    tasks: Mapping[str, Any],
    models: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    **sections: Any,
) -> str:
    """A version 1 routing config as YAML text: `defaults` when given, `models` (the whole
    catalog unless given), any other top-level section (`classifiers`, ...), then `tasks`."""
    config: dict[str, Any] = {"version": 1}
    if defaults is not None:
        config["defaults"] = dict(defaults)
    config["models"] = dict(models if models is not None else catalog())
    config.update(sections)
    config["tasks"] = dict(tasks)
    return _dump(config)


def with_route(config_text: str, task: str, route: Mapping[str, Any]) -> str:
    """`config_text` (a routing config as YAML) with `task`'s route replaced by `route`;
    edited as data, so the text's layout does not matter."""
    config = yaml.safe_load(config_text)
    assert task in config["tasks"], f"no task {task!r} in the config"
    config["tasks"][task]["route"] = dict(route)
    return _dump(config)


def _dump(config: Mapping[str, Any]) -> str:
    text: str = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False, width=1000)
    return text

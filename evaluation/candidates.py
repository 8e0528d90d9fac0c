"""What gets evaluated: catalog models, pinned provider versions, or the configured route.

A model spec on the command line is one of:

* a catalog name: `gpt-4-turbo` — the catalog entry as configured;
* `NAME@MODEL_ID`: `gpt-4-turbo@gpt-4-turbo-2024-08-15` — the catalog entry NAME (prices,
  limits, provider, prompt overrides) calling the provider model MODEL_ID instead of its
  pinned `model_id`: how a provider's new version is tried before the config moves to it;
* a bare provider model id: `gpt-4-turbo-2024-04-09` — the catalog entry pinned to exactly
  that id, else the entry whose name is the longest prefix of it (`gpt-4-turbo-2024-08-15`
  → `gpt-4-turbo` with that id), so `compare --baseline <id>` can name any provider version.

Each candidate is answered by a RoutingEngine whose config is the loaded one with the task's route
replaced by a static route to the candidate and no fallback (so a failure shows as a
failure, not as another model's answer), and with the response cache off (an eval measures
the model, not the cache). The `route` candidate keeps the task's whole configured route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import RouterConfig

__all__ = ["ROUTE", "Candidate", "candidate_config", "resolve_candidate", "route_candidate"]

#: the row name of the configured route
ROUTE = "route"


@dataclass(frozen=True, slots=True)
class Candidate:
    #: the row name: the spec as the user wrote it, or "route"
    label: str
    #: catalog entry it derives from (None for the configured route)
    base_model: str | None = None
    #: the provider model id called (None for the configured route)
    model_id: str | None = None
    #: whether model_id differs from the catalog's pinned id
    pinned: bool = False

    @property
    def is_route(self) -> bool:
        return self.base_model is None

    @property
    def catalog_name(self) -> str:
        """Its name in the eval config: the catalog name, or `NAME@MODEL_ID` when repinned."""
        if self.base_model is None:
            return ROUTE
        return f"{self.base_model}@{self.model_id}" if self.pinned else self.base_model


def route_candidate() -> Candidate:
    return Candidate(label=ROUTE)


def resolve_candidate(config: RouterConfig, spec: str) -> Candidate:
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty model name")
    if spec in config.models:
        return Candidate(spec, spec, config.models[spec].model_id)
    name, at, model_id = spec.partition("@")
    if at:
        if name not in config.models:
            raise ConfigError(f"unknown model {name!r} in {spec!r}: {_known(config)}")
        if not model_id:
            raise ConfigError(f"{spec!r}: give a provider model id after '@'")
        return _pinned(config, spec, name, model_id)
    for catalog_name, model in config.models.items():
        if model.model_id == spec:
            return Candidate(spec, catalog_name, spec)
    prefix = _longest_prefix(config, spec)
    if prefix is None:
        raise ConfigError(f"unknown model {spec!r}: {_known(config)}")
    return _pinned(config, spec, prefix, spec)


def _pinned(config: RouterConfig, label: str, name: str, model_id: str) -> Candidate:
    pinned = model_id != config.models[name].model_id
    return Candidate(label, name, model_id, pinned=pinned)


def _longest_prefix(config: RouterConfig, model_id: str) -> str | None:
    matches = [n for n in config.models if model_id.startswith(f"{n}-")]
    return max(matches, key=len) if matches else None


def _known(config: RouterConfig) -> str:
    return "the catalog has " + ", ".join(sorted(config.models))


def candidate_config(config: RouterConfig, task: str, candidate: Candidate) -> RouterConfig:
    """The config a candidate is evaluated on (see the module docstring)."""
    # Only what the file set: a prompt override's `system: null` differs from no `system`.
    data: dict[str, Any] = config.model_dump(exclude_unset=True)
    data.setdefault("defaults", {}).setdefault("cache", {})["enabled"] = False
    task_data = data["tasks"][task]
    task_data.pop("cache", None)
    if candidate.base_model is not None:
        name = candidate.catalog_name
        if candidate.pinned:
            data["models"][name] = {**data["models"][candidate.base_model]}
            data["models"][name]["model_id"] = candidate.model_id
            overrides = task_data.get("prompt", {}).get("overrides", {})
            if candidate.base_model in overrides:
                overrides[name] = overrides[candidate.base_model]
        task_data["route"] = {"strategy": "static", "model": name, "fallback": []}
        # Requests carry no tier or priority; the budget must not swap the model mid-run.
        for key in ("tiers", "batch", "budget"):
            task_data.pop(key, None)
    # Validation again: the rebuilt config obeys every rule the loaded one did.
    return RouterConfig.model_validate(data)

"""`SimConfig`: everything the simulator is started with, loadable from one YAML file.

```yaml
latency_scale: 1.0          # multiplies every sampled latency
latency_ms: 0               # optional: fixed latency for every model (0 = never sleep)
seed: 7                     # fault draws, latency draws and answers all derive from it
eval_dirs: [evals]          # JSON eval sets whose inputs get deterministic answers
include_default_models: true  # merge the shipped profiles (models.yaml) under `models`
hang_cap_s: 600             # a `hang` fault gives up after this long
journal_size: 10000         # calls kept by the call journal (`GET /_sim/calls`)
models:
  claude-3-haiku-20240307: {quality: 0.76, latency_median_ms: 450, latency_p95_ms: 900,
                            rate_429: 0.05, retry_after_s: 2}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmrouter.core.resources import shared_path
from llmrouter.simulator.profiles import ModelProfile, shipped_profiles

REPO_EVALS = shared_path("evalsets")


def _default_eval_dirs() -> list[Path]:
    return [REPO_EVALS] if REPO_EVALS.is_dir() else []


class SimConfig(BaseModel):
    """Configuration of one simulator instance."""

    model_config = ConfigDict(extra="forbid")

    latency_scale: float = Field(default=1.0, ge=0.0)
    latency_ms: float | None = Field(default=None, ge=0.0)
    seed: int = 0
    eval_dirs: list[Path] = Field(default_factory=_default_eval_dirs)
    include_default_models: bool = True
    hang_cap_s: float = Field(default=600.0, gt=0.0)
    journal_size: int = Field(default=10_000, ge=0)
    models: dict[str, ModelProfile] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _merge_shipped(self) -> Self:
        if self.include_default_models:
            merged = shipped_profiles()
            merged.update(self.models)
            self.models = merged
        return self

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimConfig:
        """Load a config file; relative `eval_dirs` are resolved against the file's folder."""
        file = Path(path)
        with file.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{file}: the simulator config must be a mapping")
        if "eval_dirs" in raw and isinstance(raw["eval_dirs"], list):
            raw["eval_dirs"] = [
                p if Path(p).is_absolute() else file.parent / p for p in raw["eval_dirs"]
            ]
        return cls.model_validate(raw)

"""`SimConfig` and model profiles."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from llmrouter.simulator import ModelProfile, SimConfig, default_profile_for
from llmrouter.simulator.config import REPO_EVALS
from llmrouter.simulator.profiles import CHEAP, FRONTIER, MID, resolve_profile, shipped_profiles

SEED_MODELS = (
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "claude-3-opus",
    "claude-3-sonnet",
    "claude-3-haiku",
    "gemini-pro",
    "llama-3-70b",
    "mistral-large",
    "custom-bert-fine-tuned",
)


def test_shipped_profiles_cover_the_example_catalog() -> None:
    profiles = shipped_profiles()
    for model in SEED_MODELS:
        assert model in profiles
    assert profiles["claude-3-opus"].quality > profiles["claude-3-haiku"].quality
    assert profiles["claude-3-haiku"].latency_p95_ms < profiles["gpt-4-turbo"].latency_p95_ms


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-3-opus-20240229", FRONTIER),
        ("gpt-4-0613", FRONTIER),
        ("claude-3-sonnet-x", MID),
        ("gemini-1.0-pro", MID),
        ("mistral-small", MID),
        ("claude-3-5-haiku-latest", CHEAP),
        ("meta-llama-3-8b", CHEAP),
        ("something-else", MID),
    ],
)
def test_default_profile_by_name(model: str, expected: ModelProfile) -> None:
    assert default_profile_for(model) == expected


def test_resolution_prefers_exact_then_longest_prefix() -> None:
    profiles = {
        "gpt-4": ModelProfile(quality=0.1),
        "gpt-4-turbo": ModelProfile(quality=0.2),
    }
    assert resolve_profile("gpt-4", profiles).quality == 0.1
    assert resolve_profile("gpt-4-turbo-2024-04-09", profiles).quality == 0.2
    assert resolve_profile("gpt-4-0613", profiles).quality == 0.1
    assert resolve_profile("claude-3-opus", profiles) == FRONTIER


def test_from_yaml(tmp_path: Path) -> None:
    (tmp_path / "sets").mkdir()
    file = tmp_path / "sim.yaml"
    file.write_text(
        "latency_ms: 0\n"
        "seed: 9\n"
        "eval_dirs: [sets]\n"
        "models:\n"
        "  my-model:\n"
        "    quality: 0.5\n"
        "    rate_429: 0.25\n"
        "    retry_after_s: 4\n"
        "  claude-3-haiku:\n"
        "    quality: 0.6\n",
        encoding="utf-8",
    )
    config = SimConfig.from_yaml(file)
    assert config.latency_ms == 0
    assert config.seed == 9
    assert config.eval_dirs == [tmp_path / "sets"]
    assert config.models["my-model"].rate_429 == 0.25
    assert config.models["claude-3-haiku"].quality == 0.6
    assert "gpt-4-turbo" in config.models  # shipped profiles merged underneath


def test_without_shipped_models() -> None:
    config = SimConfig(include_default_models=False, models={"x": ModelProfile()})
    assert list(config.models) == ["x"]


def test_defaults() -> None:
    config = SimConfig()
    assert config.latency_scale == 1.0
    assert config.latency_ms is None
    assert config.eval_dirs == ([REPO_EVALS] if REPO_EVALS.is_dir() else [])


@pytest.mark.parametrize(
    "fields",
    [
        {"quality": 1.5},
        {"rate_429": -0.1},
        {"rate_429": 0.6, "rate_500": 0.6},
        {"latency_median_ms": 100, "latency_p95_ms": 50},
        {"bogus": 1},
    ],
)
def test_profile_validation(fields: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        ModelProfile.model_validate(fields)


def test_config_rejects_unknown_keys(tmp_path: Path) -> None:
    file = tmp_path / "sim.yaml"
    file.write_text("latency: 3\n", encoding="utf-8")
    with pytest.raises(pydantic.ValidationError, match="latency"):
        SimConfig.from_yaml(file)

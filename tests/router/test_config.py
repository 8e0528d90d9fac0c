"""The routing config: the shipped example loads, and every mistake names its key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import CascadeRoute, ComplexityRoute, StaticRoute
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config, parse_config
from tests.factories import catalog, routing_config

# The tests below edit this text line by line and check the lines errors name.
MINIMAL = routing_config(
    models=catalog("cheap", "big"),
    classifiers={
        "rules": {"kind": "rules", "rules": [{"name": "long", "weight": 1, "min_chars": 100}]}
    },
    tasks={
        "qa": {
            "route": {
                "strategy": "complexity",
                "classifier": "rules",
                "levels": {"SIMPLE": "cheap", "MEDIUM": "cheap", "COMPLEX": "big"},
                "fallback": "big",
            }
        }
    },
)


def test_shipped_example_covers_every_task() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert set(config.tasks) == {
        "customer-support-qa",
        "product-description",
        "email-summarization",
        "sentiment-classification",
        "moderation",
        "legal-document-analysis",
    }
    assert {
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "claude-3-opus",
        "claude-3-sonnet",
        "claude-3-haiku",
        "gemini-pro",
        "llama-3-70b",
        "mistral-large",
    } <= set(config.models)
    assert isinstance(config.tasks["customer-support-qa"].route, ComplexityRoute)
    assert isinstance(config.tasks["moderation"].route, CascadeRoute)
    assert isinstance(config.tasks["legal-document-analysis"].route, StaticRoute)
    overrides = config.tasks["customer-support-qa"].prompt.overrides
    assert {"claude-3-haiku", "llama-3-70b"} <= set(overrides)


def test_minimal_config_and_fallback_shorthand() -> None:
    config = parse_config(MINIMAL)
    route = config.tasks["qa"].route
    assert isinstance(route, ComplexityRoute)
    assert route.fallback == ["big"]


def test_env_interpolation_in_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace(
        "    model_id: gpt-4-turbo-2024-04-09\n",
        "    model_id: gpt-4-turbo-2024-04-09\n    base_url: ${BIG_URL:-https://default.example/v1}\n",
    )
    assert parse_config(text).models["big"].base_url == "https://default.example/v1"
    monkeypatch.setenv("BIG_URL", "http://127.0.0.1:9/v1")
    assert parse_config(text).models["big"].base_url == "http://127.0.0.1:9/v1"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "key", "line_marker"),
    [
        (
            "    input_usd_per_1k: 0.01\n",
            "    input_usd_per_1k: -1\n",
            "models.big.input_usd_per_1k",
            "input_usd_per_1k: -1",
        ),
        (
            "    provider: openai\n",
            "    provider: azure\n",
            "models.big.provider",
            "provider: azure",
        ),
        (
            "    model_id: gpt-4-turbo-2024-04-09\n",
            "    model_id: gpt-4-turbo-2024-04-09\n    timeout: 3\n",
            "models.big.timeout",
            "timeout: 3",
        ),
        (
            "      fallback: big\n",
            "      fallback: huge\n",
            "tasks.qa.route.fallback.0",
            "fallback: huge",
        ),
        (
            "        COMPLEX: big\n",
            "        COMPLEX: gpt-5\n",
            "tasks.qa.route.levels.COMPLEX",
            "COMPLEX: gpt-5",
        ),
        ("        SIMPLE: cheap\n", "", "tasks.qa.route.levels", "levels:"),
        (
            "      classifier: rules\n",
            "      classifier: llm\n",
            "tasks.qa.route.classifier",
            "classifier: llm",
        ),
        ("      strategy: complexity\n", "      strategy: magic\n", "tasks.qa.route", "route:"),
        ("  qa:\n", "  Q_A:\n", "tasks.Q_A", "Q_A:"),
        ("version: 1\n", "version: 2\n", "version", "version: 2"),
    ],
)
def test_config_errors_name_key_and_line(old: str, new: str, key: str, line_marker: str) -> None:
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="routing.yaml")
    error = info.value
    assert error.key == key
    assert error.line == _line_of(text, line_marker)
    assert str(error).startswith(f"{key} (line {error.line}): ")
    assert "routing.yaml" in str(error)


def test_budget_and_tier_references_are_checked() -> None:
    text = (
        MINIMAL
        + "    tiers:\n      free: tiny\n    budget:\n      daily_usd: 5\n      downgrade_to: cheap\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.key == "tasks.qa.tiers.free.model"


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        parse_config("models:\n  a: [1, 2\n")
    assert info.value.line is not None


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_config("- 1\n- 2\n")


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")


def test_redis_cache_needs_a_url() -> None:
    text = MINIMAL.replace("version: 1\n", "version: 1\ndefaults:\n  cache:\n    backend: redis\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.key == "defaults.cache"


def test_no_api_key_values_in_the_example() -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for spec in raw["models"].values():
        assert not {"api_key", "key", "token"} & set(spec)


def test_duplicate_keys_stop_start_up() -> None:
    text = MINIMAL.replace("  big:\n", "  cheap:\n", 1)
    with pytest.raises(ConfigError, match="duplicate key") as info:
        parse_config(text)
    assert info.value.key == "models.cheap"
    assert info.value.line == _line_of(text, "  cheap:") + 5


def test_unset_env_var_in_base_url_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    text = MINIMAL.replace(
        "    model_id: gpt-4-turbo-2024-04-09\n",
        "    model_id: gpt-4-turbo-2024-04-09\n    base_url: ${NOT_SET_ANYWHERE}/v1\n",
    )
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE is not set") as info:
        parse_config(text)
    assert info.value.key == "models.big.base_url"


CASCADE = """
  mod:
    route:
      strategy: cascade
      steps: [{model: cheap, min_confidence: 0.9}, {model: big}]
"""


def test_cascade_on_json_confidence_needs_a_json_prompt() -> None:
    with pytest.raises(ConfigError, match="response_format: json") as info:
        parse_config(MINIMAL + CASCADE)
    assert info.value.key == "tasks.mod"
    fixed = MINIMAL + CASCADE.replace(
        "    route:\n", "    prompt: {response_format: json}\n    route:\n"
    )
    assert parse_config(fixed).tasks["mod"].prompt.response_format == "json"


def test_a_bad_scorer_stops_router_start_up() -> None:
    from llmrouter.router import RoutingEngine

    text = MINIMAL + CASCADE.replace(
        "      strategy: cascade\n", "      strategy: cascade\n      scorer: nowhere:nothing\n"
    )
    with pytest.raises(ConfigError, match="cannot import scorer 'nowhere:nothing'"):
        RoutingEngine(parse_config(text))

"""Model specs and the configs candidates are evaluated on."""

from __future__ import annotations

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.evaluation.candidates import candidate_config, resolve_candidate, route_candidate
from llmrouter.router.config import ComplexityRoute, StaticRoute
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.router.prompts import render_prompt

CONFIG = load_config(EXAMPLE_CONFIG)
TASK = "customer-support-qa"


def test_a_catalog_name() -> None:
    c = resolve_candidate(CONFIG, "gpt-4-turbo")
    assert (c.label, c.base_model, c.model_id, c.pinned) == (
        "gpt-4-turbo",
        "gpt-4-turbo",
        "gpt-4-turbo-2024-04-09",
        False,
    )
    assert c.catalog_name == "gpt-4-turbo"


def test_name_at_model_id_repins_the_catalog_entry() -> None:
    c = resolve_candidate(CONFIG, "gpt-4-turbo@gpt-4-turbo-2024-08-15")
    assert (c.base_model, c.model_id, c.pinned) == ("gpt-4-turbo", "gpt-4-turbo-2024-08-15", True)
    assert c.catalog_name == "gpt-4-turbo@gpt-4-turbo-2024-08-15"


def test_a_bare_provider_model_id() -> None:
    pinned_now = resolve_candidate(CONFIG, "gpt-4-turbo-2024-04-09")
    assert (pinned_now.base_model, pinned_now.pinned) == ("gpt-4-turbo", False)
    newer = resolve_candidate(CONFIG, "gpt-4-turbo-2024-08-15")
    assert (newer.label, newer.base_model, newer.model_id, newer.pinned) == (
        "gpt-4-turbo-2024-08-15",
        "gpt-4-turbo",
        "gpt-4-turbo-2024-08-15",
        True,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-5", "unknown model 'gpt-5': the catalog has"),
        ("nope@x", "unknown model 'nope' in 'nope@x'"),
        ("gpt-4-turbo@", "give a provider model id after '@'"),
        ("  ", "empty model name"),
    ],
)
def test_unknown_specs_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_candidate(CONFIG, spec)


def test_a_candidate_is_a_static_route_without_fallback_or_cache() -> None:
    cfg = candidate_config(CONFIG, TASK, resolve_candidate(CONFIG, "claude-3-haiku"))
    task = cfg.tasks[TASK]
    assert task.route == StaticRoute(strategy="static", model="claude-3-haiku", fallback=[])
    assert (task.tiers, task.batch, task.budget) == ({}, None, None)
    assert not cfg.defaults.cache.enabled
    # The rest of the config is untouched.
    assert cfg.tasks["moderation"] == CONFIG.tasks["moderation"]
    assert cfg.models == CONFIG.models


def test_a_repinned_candidate_keeps_prices_and_prompt_override() -> None:
    spec = "claude-3-haiku@claude-3-haiku-20250101"
    cfg = candidate_config(CONFIG, TASK, resolve_candidate(CONFIG, spec))
    assert cfg.models[spec].model_id == "claude-3-haiku-20250101"
    assert cfg.models[spec].input_usd_per_1k == CONFIG.models["claude-3-haiku"].input_usd_per_1k
    prompt = cfg.tasks[TASK].prompt
    assert render_prompt(prompt, spec, "q", {}).user == (
        render_prompt(prompt, "claude-3-haiku", "q", {}).user
    )


def test_prompt_overrides_survive_the_rebuild() -> None:
    # llama's override sets `system: null`: the rebuilt config must still drop the system.
    cfg = candidate_config(CONFIG, TASK, resolve_candidate(CONFIG, "llama-3-70b"))
    for model in ("llama-3-70b", "gpt-4-turbo", "claude-3-haiku"):
        before = render_prompt(CONFIG.tasks[TASK].prompt, model, "q", {"kb_context": "kb"})
        after = render_prompt(cfg.tasks[TASK].prompt, model, "q", {"kb_context": "kb"})
        assert after == before


def test_the_route_candidate_keeps_the_configured_route() -> None:
    cfg = candidate_config(CONFIG, TASK, route_candidate())
    assert isinstance(cfg.tasks[TASK].route, ComplexityRoute)
    assert cfg.tasks[TASK].route == CONFIG.tasks[TASK].route
    assert not cfg.defaults.cache.enabled

"""Prompt templates: checked when the config loads, with the key and the line at fault;
literal braces written twice; declared context keys with their default text."""

from __future__ import annotations

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import PromptSpec
from llmrouter.router.config_loader import parse_config
from llmrouter.router.prompts import render_prompt, template_problems

CONFIG = """\
models:
  m: {{provider: openai, model_id: x, input_usd_per_1k: 0, output_usd_per_1k: 0}}
tasks:
  mod:
    prompt:
      context: {{kb_context: "(none)"}}
      template: |
        Decide.
        {line}
        Content: {{input}}
    route: {{strategy: static, model: m}}
"""


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('Reply with JSON: {"label": "safe"}', "bad placeholder"),
        ("Knowledge: {kb_context", "unbalanced '{'"),
        ("Knowledge: kb_context}", "unbalanced '}'"),
        ("Knowledge: {kb_contxt}", "unknown variable {kb_contxt}"),
        ("Value: {input!r}", "bad placeholder"),
        ("Item: {0}", "bad placeholder"),
    ],
)
def test_a_bad_template_names_its_key_and_line(line: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CONFIG.format(line=line), source="routing.yaml")
    error = caught.value
    assert error.key == "tasks.mod.prompt.template"
    assert error.line == 9, "the line of the file the placeholder is on"
    assert reason in str(error)
    assert "\n" not in str(error)


def test_literal_braces_and_declared_context() -> None:
    config = parse_config(CONFIG.format(line='Reply with JSON: {{"label": "safe"}} {kb_context}'))
    spec = config.tasks["mod"].prompt
    without = render_prompt(spec, "m", "hello", {})
    assert 'Reply with JSON: {"label": "safe"} (none)' in without.user
    assert without.user.endswith("Content: hello\n")
    given = render_prompt(spec, "m", "hello", {"kb_context": "the manual"})
    assert '{"label": "safe"} the manual' in given.user


def test_overrides_and_system_prompts_are_checked_too() -> None:
    text = CONFIG.format(line="ok").replace(
        "    route:", "      overrides:\n        m: {system: 'You {are'}\n    route:"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == "tasks.mod.prompt.overrides.m.system"
    assert caught.value.line == 12


def test_the_shipped_example_passes_and_its_moderation_prompt_keeps_json_braces() -> None:
    from pathlib import Path

    from llmrouter.router.config_loader import EXAMPLE_CONFIG

    config = parse_config(Path(EXAMPLE_CONFIG).read_text(encoding="utf-8"))
    user = render_prompt(config.tasks["moderation"].prompt, "claude-3-haiku", "hi", {}).user
    assert '{"label": "safe" or "unsafe"' in user


def test_a_template_built_in_code_fails_as_a_config_error_not_a_traceback() -> None:
    spec = PromptSpec(template='JSON {"a": 1} {input}')
    assert template_problems(spec.template, {"input"})
    with pytest.raises(ConfigError, match="cannot be filled"):
        render_prompt(spec, "m", "x", {})

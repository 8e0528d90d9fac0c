"""Every key of the routing config is documented.

Walks the pydantic models of `router.config` (RouterConfig and every model nested in it,
through dicts, lists, optionals, annotated and discriminated unions) and checks each field
name appears as a backticked key, bare (`` `min_confidence` ``) or as the last part of a
dotted path (`` `defaults.retry.rate_limited` ``), in docs/configuration.md. Adding a config
field without documenting it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from llmrouter.router.config import (
    BudgetSpec,
    CascadeRoute,
    CascadeStep,
    ComplexityRoute,
    LLMClassifierSpec,
    PromptOverride,
    RouterConfig,
    RulesClassifierSpec,
    RuleSpec,
    StaticRoute,
)
from llmrouter.router.config_loader import parse_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "configuration.md"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")
# The key part of a span such as `retry.rate_limited`, `min_confidence: 0.9` or `rules[].name`.
_KEY_PART = re.compile(r"[A-Za-z_<>\[\]][\w.<>\[\]-]*")


def config_models(root: type[BaseModel] = RouterConfig) -> set[type[BaseModel]]:
    """`root` and every BaseModel reachable from its fields' annotations."""
    found: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in found:
                return
            found.add(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)
            return
        # Annotated[...], unions, Optional, list[...], dict[..., ...], Literal[...]:
        # non-type arguments (metadata, literal values) have no args and end the walk.
        for arg in get_args(annotation):
            visit(arg)

    visit(root)
    return found


def config_field_names() -> set[str]:
    return {name for model in config_models() for name in model.model_fields}


def section(markdown: str, title: str) -> str:
    """The text under the first heading containing `title`, up to the next heading of the
    same or a higher level (headings inside code fences do not count)."""
    lines = markdown.splitlines()
    in_fence = False
    start: int | None = None
    level = 0
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            continue
        depth = len(match.group(1))
        if start is None:
            if title.casefold() in match.group(2).casefold():
                start, level = i, depth
        elif depth <= level:
            return "\n".join(lines[start:i])
    return "" if start is None else "\n".join(lines[start:])


def documented_keys(markdown: str) -> set[str]:
    """The last dotted part of every backticked key in `markdown`."""
    keys: set[str] = set()
    for span in _CODE_SPAN.findall(markdown):
        match = _KEY_PART.match(span.strip())
        if match is None:
            continue
        last = match.group(0).rstrip(".").rsplit(".", 1)[-1]
        keys.add(last.removesuffix("[]"))
    return keys


def documentation() -> str:
    """The routing-config reference: docs/configuration.md's "Routing config" section.

    Every test below reads it through here, so a missing section fails each of them with
    this one message (it had a test of its own, which asserted no more than that)."""
    text = section(DOCS.read_text(encoding="utf-8"), "Routing config")
    assert text, "docs/configuration.md has no 'Routing config' section"
    return text


def test_walker_reaches_every_nested_model() -> None:
    models = config_models()
    for expected in (
        StaticRoute,
        ComplexityRoute,
        CascadeRoute,
        CascadeStep,
        RulesClassifierSpec,
        LLMClassifierSpec,
        RuleSpec,
        BudgetSpec,
        PromptOverride,
    ):
        assert expected in models, expected.__name__
    names = config_field_names()
    assert {"min_confidence", "any_of", "downgrade_to", "cache_sampled", "api_key_file"} <= names


@pytest.mark.parametrize("name", sorted(config_field_names()))
def test_config_key_is_documented(name: str) -> None:
    assert name in documented_keys(documentation()), (
        f"config key {name!r} (router/config*.py) is not documented as a backticked key in "
        "docs/configuration.md"
    )


def test_key_matching_is_strict() -> None:
    doc = "Use `defaults.retry.rate_limited`, `min_confidence: 0.9` and `rules[].name`; timeout_s."
    keys = documented_keys(doc)
    assert {"rate_limited", "min_confidence", "name"} <= keys
    assert "timeout_s" not in keys  # not backticked
    assert "retry" not in keys  # only the last part of a dotted path counts


def test_section_stops_at_next_heading() -> None:
    text = (
        "# A\n## Routing config\n`x`\n```yaml\n# not a heading\n```\n### Sub\n`y`\n## Next\n`z`\n"
    )
    assert documented_keys(section(text, "routing config")) == {"x", "y"}
    assert section(text, "missing") == ""


def test_reference_example_is_valid() -> None:
    """The complete example at the top of the reference loads without errors."""
    match = re.search(r"```yaml\n(.*?)```", documentation(), re.DOTALL)
    assert match is not None, "docs/configuration.md has no yaml example"
    config = parse_config(match.group(1), source="docs/configuration.md")
    assert config.tasks

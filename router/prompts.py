"""Prompts per task, with per-model overrides (the seed: "Don't assume one prompt works
for all"). Rendering is `str.format_map` over the request's input and context."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmrouter.router.config import PromptSpec

__all__ = ["RenderedPrompt", "render_prompt"]


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    system: str | None
    user: str
    json_mode: bool
    #: changes whenever the template text changes, so cached answers of an old prompt die
    version: str


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        # A request without e.g. kb_context still gets an answer; the gap shows in the prompt.
        return ""


def render_prompt(
    spec: PromptSpec, model: str, text: str, context: Mapping[str, Any]
) -> RenderedPrompt:
    override = spec.overrides.get(model)
    system = spec.system
    template = spec.template
    if override is not None:
        if "system" in override.model_fields_set:
            system = override.system
        if override.template is not None:
            template = override.template
    variables = _Vars(context)
    variables["input"] = text
    variables.setdefault("question", text)
    version = hashlib.sha256(f"{system}\x00{template}".encode()).hexdigest()[:16]
    return RenderedPrompt(
        system=system.format_map(variables) if system else None,
        user=template.format_map(variables),
        json_mode=spec.response_format == "json",
        version=version,
    )

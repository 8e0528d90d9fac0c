"""Prompts per task, with per-model overrides ("don't assume one prompt works for all").

A template is Python str.format text: `{input}` (alias `{question}`) is the request's input,
any other `{name}` a key of the request's `context` that the task declares under
`prompt.context` (with the text used when a request lacks it). A literal brace is written
twice: `{{"label": "safe"}}` reaches the model as `{"label": "safe"}`. Templates are checked
when the config loads (`prompt_problems`), so a bad one stops start-up instead of failing
every request.

Every template is filled in one pass: text that comes in (the input, a context value) is
never read as a template again, so an input full of `{input}` costs its own length and no
more. The LLM classifier's prompt is plain text with `{input}` / `{question}` markers
(`fill_markers`), filled in one pass too.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import PromptSpec

__all__ = [
    "REQUEST_VARIABLES",
    "RenderedPrompt",
    "TemplateProblem",
    "fill_markers",
    "prompt_problems",
    "render_prompt",
    "template_problems",
]

#: what every request supplies to its prompt
REQUEST_VARIABLES = frozenset({"input", "question"})


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    system: str | None
    user: str
    json_mode: bool
    #: changes whenever the template text changes, so cached answers of an old prompt die
    version: str
    #: characters of `user` before the request's own text (the template's static part and
    #: declared context such as a knowledge base): the prefix a provider's prompt cache can
    #: reuse across requests
    static_chars: int = 0
    #: how long a provider should keep that prefix cached ("5m", "1h"), None for no breakpoint
    cache_ttl: str | None = None
    #: the JSON Schema the answer must follow (`prompt.response_schema`), asked for natively
    response_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    #: dotted key path of the template in the config, e.g. tasks.moderation.prompt.template
    key: str
    message: str
    #: 1-based line within the template text
    template_line: int


@dataclass(frozen=True, slots=True)
class _Template:
    """What a prompt spec gives one model, the same for every request: its system text,
    template, version and the template's parts (`string.Formatter().parse`)."""

    system: str | None
    template: str
    version: str
    parts: tuple[tuple[str, str | None, str | None, str | None], ...]


#: each (prompt spec, model)'s template, by the spec's identity, with the spec kept (so its
#: identity is never another's): a config reload's specs get their own
_TEMPLATES: dict[tuple[int, str], tuple[PromptSpec, _Template]] = {}
_MAX_TEMPLATES = 4096


def _template(spec: PromptSpec, model: str) -> _Template:
    known = _TEMPLATES.get((id(spec), model))
    if known is not None and known[0] is spec:
        return known[1]
    override = spec.overrides.get(model)
    system = spec.system
    template = spec.template
    if override is not None:
        if "system" in override.model_fields_set:
            system = override.system
        if override.template is not None:
            template = override.template
    versioned = f"{system}\x00{template}".encode()
    if spec.response_schema is not None:  # a new schema is a new prompt: old answers die
        versioned += b"\x00" + orjson.dumps(spec.response_schema, option=orjson.OPT_SORT_KEYS)
    try:
        parts = tuple(string.Formatter().parse(template))
    except ValueError:
        parts = ()  # the template is refused when it is filled, below
    made = _Template(system, template, hashlib.sha256(versioned).hexdigest()[:16], parts)
    if len(_TEMPLATES) >= _MAX_TEMPLATES:  # specs of reloads long gone
        _TEMPLATES.clear()
    _TEMPLATES[(id(spec), model)] = (spec, made)
    return made


def render_prompt(
    spec: PromptSpec, model: str, text: str, context: Mapping[str, Any]
) -> RenderedPrompt:
    prepared = _template(spec, model)
    system, template = prepared.system, prepared.template
    variables: dict[str, Any] = {**spec.context, **context, "input": text}
    variables.setdefault("question", text)
    try:
        user = template.format_map(_Vars(variables))
        return RenderedPrompt(
            system=system.format_map(_Vars(variables)) if system else None,
            user=user,
            json_mode=spec.response_format == "json",
            version=prepared.version,
            static_chars=_static_chars(prepared.parts, variables, user),
            cache_ttl=None if spec.cache == "off" else spec.cache,
            response_schema=spec.response_schema,
        )
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        # Only a template that skipped the load-time check gets here.
        raise ConfigError(f"prompt template of model {model!r} cannot be filled: {exc}") from None


def _static_chars(
    parts: tuple[tuple[str, str | None, str | None, str | None], ...],
    variables: Mapping[str, Any],
    user: str,
) -> int:
    """How many characters of the filled `user` text come before the first request
    variable: the template's own text and context values, the same for every request that
    shares them. `parts` are the template's (`string.Formatter().parse`)."""
    prefix = ""
    for literal, field, spec, conversion in parts:
        prefix += literal
        if field is None:
            continue
        if field in REQUEST_VARIABLES:
            break
        # the one field alone, filled as `format_map` filled it in the whole text
        alone = "{" + field + (f"!{conversion}" if conversion else "") + f":{spec or ''}" + "}"
        prefix += alone.format_map(_Vars(variables))
    else:  # no request variable: the whole text is the same for every request
        return len(user)
    return len(prefix) if user.startswith(prefix) else 0


_MARKER = re.compile(r"\{(?:input|question)\}")


def fill_markers(template: str, text: str) -> str:
    """`template` with each `{input}` / `{question}` replaced by `text`, in one pass: the
    other braces stay as written, and markers inside `text` are left as they are."""
    return _MARKER.sub(lambda _match: text, template)


class _Vars(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def prompt_problems(spec: PromptSpec, where: str) -> list[TemplateProblem]:
    """Every problem of a task's templates (system, template and each override's), with
    the key path of the template at fault; `where` is the prompt's own key path."""
    known = REQUEST_VARIABLES | spec.context.keys()
    texts: list[tuple[str, str | None]] = [
        (f"{where}.system", spec.system),
        (f"{where}.template", spec.template),
    ]
    for model, override in spec.overrides.items():
        texts += [
            (f"{where}.overrides.{model}.system", override.system),
            (f"{where}.overrides.{model}.template", override.template),
        ]
    return [
        TemplateProblem(key, message, line)
        for key, text in texts
        if text
        for message, line in template_problems(text, known)
    ]


def template_problems(text: str, known: frozenset[str] | set[str]) -> list[tuple[str, int]]:
    """(message, 1-based line) for each bad placeholder, unbalanced brace or variable that
    neither the request nor the declared context supplies."""
    problems: list[tuple[str, int]] = []
    for name, line in _placeholders(text, problems):
        if not name.isidentifier():
            problems.append(
                (
                    f"bad placeholder {{{name}}}: a placeholder is {{name}}; "
                    "write a literal brace twice, {{ and }}",
                    line,
                )
            )
        elif name not in known:
            declared = ", ".join(sorted(known - REQUEST_VARIABLES)) or "none"
            problems.append(
                (
                    f"unknown variable {{{name}}}: a request supplies input and question; "
                    f"declare context keys under prompt.context (declared: {declared})",
                    line,
                )
            )
    return problems


def _placeholders(text: str, problems: list[tuple[str, int]]) -> Iterator[tuple[str, int]]:
    """The text inside each single `{…}`, with its line; unbalanced braces go to problems."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        line = text.count("\n", 0, i) + 1
        if text.startswith("{{", i) or text.startswith("}}", i):
            i += 2
        elif char == "{":
            end = _field_end(text, i + 1)
            if end is None:
                snippet = text[i : i + 30].split("\n", 1)[0]
                problems.append(
                    (
                        f"unbalanced '{{' at {snippet!r}: close it, or write a literal brace "
                        "as {{",
                        line,
                    )
                )
                return
            yield text[i + 1 : end], line
            i = end + 1
        elif char == "}":
            problems.append(("unbalanced '}': write a literal brace as }}", line))
            i += 1
        else:
            i += 1


def _field_end(text: str, start: int) -> int | None:
    """Index of the `}` closing a field opened just before `start`, or None when a newline,
    another `{` or the end of the text comes first."""
    for j in range(start, len(text)):
        if text[j] == "}":
            return j
        if text[j] in "{\n":
            return None
    return None

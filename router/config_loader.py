"""Read the routing YAML, validate it, and turn every mistake into a ConfigError that
names the key path and its line in the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmrouter.core.errors import ConfigError
from llmrouter.core.resources import shared_path
from llmrouter.router.config import RouterConfig, UnresolvedReferences
from llmrouter.router.prompts import TemplateProblem, prompt_problems

__all__ = ["ENV_VAR", "EXAMPLE_CONFIG", "load_config", "parse_config", "resolve_config_path"]

ENV_VAR = "LLMROUTER_CONFIG"
EXAMPLE_CONFIG = shared_path("config/example.yaml")

Path_ = tuple[str, ...]


def resolve_config_path(path: str | Path | None = None) -> Path:
    """`--config`, else $LLMROUTER_CONFIG, else the shipped example."""
    chosen = path or os.environ.get(ENV_VAR) or EXAMPLE_CONFIG
    return Path(chosen)


def load_config(path: str | Path | None = None) -> RouterConfig:
    resolved = resolve_config_path(path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {resolved}: {exc.strerror}") from None
    return parse_config(text, source=str(resolved))


def parse_config(text: str, *, source: str = "<config>") -> RouterConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML: {problem}", line=line) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the config must be a mapping of keys, got {type(data).__name__}"
        )
    lines = _line_index(root)  # raises ConfigError on duplicate keys
    try:
        config = RouterConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, lines, source) from None
    problems = [
        problem
        for name, task in config.tasks.items()
        for problem in prompt_problems(task.prompt, f"tasks.{name}.prompt")
    ]
    if problems:
        raise _template_error(problems, root, source)
    return config


def _template_error(problems: list[TemplateProblem], root: Any, source: str) -> ConfigError:
    """The first template problem, at the line of the file it is on."""
    first = problems[0]
    more = len(problems) - 1
    suffix = f" (and {more} more template problem{'s' if more > 1 else ''})" if more else ""
    node = _node_at(root, first.key.split("."))
    line = None
    if node is not None:
        line = node.start_mark.line + 1
        if getattr(node, "style", None) in ("|", ">"):  # the text starts below the key
            line += first.template_line
        else:
            line += first.template_line - 1
    return ConfigError(f"{first.message}{suffix} [{source}]", key=first.key, line=line)


def _node_at(node: Any, path: list[str]) -> Any:
    """The YAML node at a key path, or None."""
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if str(k.value) == part), None)
        if node is None:
            return None
    return node


def _first_error(exc: ValidationError, lines: dict[Path_, int], source: str) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    original = (err.get("ctx") or {}).get("error")
    if isinstance(original, UnresolvedReferences):
        key, message = original.problems[0]
        more = len(original.problems) - 1
        suffix = f" (and {more} more unresolved name{'s' if more > 1 else ''})" if more else ""
        return ConfigError(f"{message}{suffix} [{source}]", key=key, line=_line_of(key, lines))
    # Union members add their tag to the path (e.g. 'static'); keep only real keys.
    loc = [str(p) for p in err["loc"] if not _is_union_tag(str(p))]
    key = ".".join(loc) or "(top level)"
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key (misspelt, or not valid here)"
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return ConfigError(f"{message}{suffix} [{source}]", key=key, line=_line_of(key, lines))


_UNION_TAGS = {
    "static",
    "complexity",
    "cascade",
    "rules",
    "llm",
    "function-before[_model_shorthand()]",
}


def _is_union_tag(part: str) -> bool:
    return part in _UNION_TAGS or part == "[key]" or part.startswith(("function-", "tagged-union"))


def _line_of(key: str, lines: dict[Path_, int]) -> int | None:
    """The line of the deepest existing prefix of the key path."""
    parts = tuple(key.split("."))
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None


def _line_index(node: Any, prefix: Path_ = ()) -> dict[Path_, int]:
    """(key, path, ...) → 1-based line, from the YAML node tree."""
    index: dict[Path_, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            if path in index:
                # PyYAML keeps the last of two equal keys; a silent overwrite hides mistakes.
                raise ConfigError(
                    f"duplicate key (first on line {index[path]})",
                    key=".".join(path),
                    line=key_node.start_mark.line + 1,
                )
            index[path] = key_node.start_mark.line + 1
            index.update(_line_index(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            index[path] = item.start_mark.line + 1
            index.update(_line_index(item, path))
    return index

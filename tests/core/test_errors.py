"""The error tree as drawn matches the code: every class of `llmrouter.core.errors` is in the
module's drawing and in docs/errors.md's, with its parent, and the tests they name exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from llmrouter.core import errors

REPO = Path(__file__).resolve().parents[2]

_NODE = re.compile(r"^(?P<indent>[ │]*)(?:[├└]── )?(?P<name>[A-Za-z]+)(?:\([A-Za-z]+\))?(?:\s|$)")


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }


def _drawn(text: str) -> dict[str, str | None]:
    """Class name → the name of its parent in the drawing (None for the root)."""
    start = text.index("LLMRouterError\n")
    lines = text[start:].splitlines()
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        if not line.strip() or not line.lstrip(" │").startswith(("├", "└", "LLMRouterError")):
            if parents:
                break
            continue
        match = _NODE.match(line)
        assert match is not None, line
        depth = len(match.group("indent"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group("name")] = stack[-1][1] if stack else None
        stack.append((depth, match.group("name")))
    return parents


def _our_parent(cls: type[BaseException]) -> str | None:
    ours = [b for b in cls.__bases__ if b.__module__ == errors.__name__]
    return ours[0].__name__ if ours else None


@pytest.mark.parametrize(
    "source",
    [errors.__doc__ or "", (REPO / "docs" / "errors.md").read_text(encoding="utf-8")],
    ids=["module docstring", "docs/errors.md"],
)
def test_the_drawing_lists_every_class_under_its_parent(source: str) -> None:
    drawn = _drawn(source)
    classes = _classes()
    assert set(drawn) == set(classes), (
        f"missing: {sorted(set(classes) - set(drawn))}, "
        f"not in the code: {sorted(set(drawn) - set(classes))}"
    )
    for name, cls in classes.items():
        assert drawn[name] == _our_parent(cls), name


def test_every_class_is_exported() -> None:
    assert set(errors.__all__) == set(_classes())


def test_the_tests_the_docstring_names_exist() -> None:
    named = re.findall(r"`(tests/[\w/]+\.py)`", errors.__doc__ or "")
    assert named, "the docstring names the tests that check the translations"
    assert [path for path in named if not (REPO / path).is_file()] == []

"""README.md fits on a screen and points into docs/; every link of README.md and of the
docs pages reaches a file of the repository, and the heading it names, if any."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 250

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside its code fences."""
    lines, in_fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    return lines


def _links(path: Path) -> list[str]:
    """The repository-relative targets of a Markdown file's links (no web addresses)."""
    return [
        target
        for line in _prose(path)
        for target in _LINK.findall(line)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    ]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(m.group(1)) for line in _prose(path) if (m := _HEADING.match(line))}


def _broken(page: Path, target: str) -> str | None:
    """Why the link `target` of `page` leads nowhere, or None when it reaches its place."""
    file_part, _, anchor = target.partition("#")
    dest = (page.parent / file_part).resolve() if file_part else page
    if not dest.exists():
        return f"{target}: no such file"
    if anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
        return f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}"
    return None


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def test_the_readme_fits_on_a_screen() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines; at most {MAX_README_LINES}: move detail to docs/"
    )


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _links(README)}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, f"docs pages missing from README.md's map: {unlinked}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_reaches_its_place(page: Path) -> None:
    broken = [why for target in _links(page) if (why := _broken(page, target))]
    assert not broken, f"broken links in {page.relative_to(ROOT)}: {broken}"


def test_anchors_follow_github() -> None:
    assert _anchor("API key — first match wins") == "api-key--first-match-wins"
    assert _anchor("`defaults.retry.*`") == "defaultsretry"
    assert _anchor("`${VAR}` expansion in `base_url`") == "var-expansion-in-base_url"
    assert _anchor("How the tests find Kafka") == "how-the-tests-find-kafka"

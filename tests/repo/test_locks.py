"""The locks pin one resolution of pyproject.toml's ranges, and every install uses them.

requirements/dev.lock (what `make install` and CI install) and requirements/all.lock (what
the Docker image installs) are written by `make lock` / `make upgrade`. An edit of
pyproject.toml that nobody re-locked fails here, before it fails in someone's fresh install
or in the image.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
DEV_LOCK = REQUIREMENTS / "dev.lock"
IMAGE_LOCK = REQUIREMENTS / "all.lock"
TOOLS_LOCK = REQUIREMENTS / "tools.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: name -> every (version, marker) it is pinned at (a universal lock may pin a package twice,
#: under exclusive markers, e.g. one numpy for Python 3.11 and another for 3.12+)
Pins = dict[str, set[tuple[Version, str]]]


def _entries(lock: Path) -> list[tuple[Requirement, int]]:
    """Each pinned requirement of a lock with its number of hashes."""
    logical = re.sub(r"\\\n", " ", lock.read_text(encoding="utf-8"))
    entries = []
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *hashes = line.split("--hash=")
        entries.append((Requirement(requirement.strip()), len(hashes)))
    return entries


def _pins(lock: Path) -> Pins:
    pins: Pins = defaultdict(set)
    for requirement, _ in _entries(lock):
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"{lock.name}: {requirement} is not one pinned version"
        pins[canonicalize_name(requirement.name)].add(
            (Version(spec.version), str(requirement.marker))
        )
    return dict(pins)


def _wanted(*extras: str) -> list[Requirement]:
    """The requirements of the base install and the extras, `llmrouter[...]` expanded."""
    project = PYPROJECT["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for raw in optional[extra]:
            requirement = Requirement(raw)
            if canonicalize_name(requirement.name) == "llmrouter":
                todo.extend(requirement.extras)
            else:
                wanted.append(requirement)
    # The installing tools: --no-build-isolation builds the project with the locked backend.
    wanted += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    wanted.append(Requirement("pip"))
    return wanted


@pytest.mark.parametrize(("lock", "extra"), [(DEV_LOCK, "dev"), (IMAGE_LOCK, "all")])
def test_the_locks_cover_every_requirement_in_its_range(lock: Path, extra: str) -> None:
    pins = _pins(lock)
    missing, outside = [], []
    for requirement in _wanted(extra):
        versions = pins.get(canonicalize_name(requirement.name))
        if versions is None:
            missing.append(str(requirement))
            continue
        outside += [
            f"{requirement} but locked {version}"
            for version, _ in versions
            if not requirement.specifier.contains(version, prereleases=True)
        ]
    assert not missing, f"not in {lock.name} (run `make lock`): {missing}"
    assert not outside, f"{lock.name} is outside pyproject.toml (run `make lock`): {outside}"


@pytest.mark.parametrize("lock", [DEV_LOCK, IMAGE_LOCK, TOOLS_LOCK], ids=lambda p: p.name)
def test_every_pin_carries_its_hashes(lock: Path) -> None:
    entries = _entries(lock)
    assert entries
    unhashed = [str(requirement) for requirement, hashes in entries if hashes == 0]
    assert not unhashed, f"{lock.name}: pins with no hash: {unhashed}"


def test_the_image_lock_agrees_with_the_dev_lock() -> None:
    """The image runs the versions CI tested: all.lock is resolved under dev.lock's pins."""
    dev, image = _pins(DEV_LOCK), _pins(IMAGE_LOCK)
    differ = {
        name: (versions, dev.get(name))
        for name, versions in image.items()
        if dev.get(name) != versions
    }
    assert not differ, f"all.lock and dev.lock disagree (run `make lock`): {differ}"
    for tool in ("pytest", "ruff", "mypy", "hypothesis"):
        assert tool in dev
        assert tool not in image, f"the image lock has the dev tool {tool}"


@pytest.mark.parametrize("path", ["Makefile", "Dockerfile"])
def test_every_install_is_from_a_lock(path: str) -> None:
    """Each `pip install` either checks a lock's hashes or installs the project alone."""
    text = re.sub(r"\\\n", " ", (ROOT / path).read_text(encoding="utf-8"))
    installs = [line.strip() for line in text.splitlines() if re.search(r"\bpip install\b", line)]
    assert installs
    loose = [
        line
        for line in installs
        if not re.search(r"--require-hashes -r (\S+\.lock|\$\(\w+_LOCK\))", line)
        and "--no-deps" not in line
    ]
    assert not loose, f"{path} installs from outside a lock: {loose}"

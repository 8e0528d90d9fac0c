"""The optional-import rule: every optional package is provided by the extra we name."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from llmrouter.core.errors import LLMRouterError, MissingDependency
from llmrouter.core.optional import EXTRAS, exit_for_missing, pyplot, require

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _extras() -> dict[str, set[str]]:
    """Each extra's distributions, with `llmrouter[...]` self-references expanded."""
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]

    def names(extra: str) -> set[str]:
        found: set[str] = set()
        for requirement in declared[extra]:
            name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
            if name == "llmrouter":
                inner = requirement.split("[", 1)[1].split("]", 1)[0]
                for other in inner.split(","):
                    found |= names(other.strip())
            else:
                found.add(name)
        return found

    return {extra: names(extra) for extra in declared}


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_the_named_extra_installs_the_package(module: str) -> None:
    provider = EXTRAS[module]
    extras = _extras()
    assert provider.distribution.lower() in extras[provider.extra], (
        f"{module}: pyproject's [{provider.extra}] extra does not list {provider.distribution}"
    )
    assert provider.distribution.lower() in extras["all"]


def test_a_missing_package_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an uninstalled package does
    with pytest.raises(MissingDependency) as info:
        require("matplotlib", purpose="--plot")
    assert isinstance(info.value, LLMRouterError)
    assert isinstance(info.value, ImportError)
    assert info.value.extra == "eval"
    assert str(info.value) == (
        "--plot needs matplotlib, which is not installed: pip install 'llmrouter[eval]'"
    )
    with pytest.raises(MissingDependency, match=r"llmrouter\[eval\]"):
        pyplot()


def test_an_installed_package_is_returned() -> None:
    assert require("yaml").__name__ == "yaml"
    assert pyplot().get_backend().lower() == "agg"


def test_a_broken_install_is_not_reported_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed package whose own import fails is a different problem: let it show."""
    (tmp_path / "half_installed").mkdir()
    (tmp_path / "half_installed" / "__init__.py").write_text("import its_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("half_installed")
    assert not isinstance(info.value, MissingDependency)
    assert info.value.name == "its_missing_dependency"


def test_exit_for_missing_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        exit_for_missing(ModuleNotFoundError("No module named 'typer'", name="typer"))
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "llmrouter: error: the llmrouter command needs typer, which is not installed: "
        "pip install 'llmrouter[cli]'\n"
    )
    unknown = ModuleNotFoundError("No module named 'nowhere'", name="nowhere")
    with pytest.raises(ModuleNotFoundError) as raised:
        exit_for_missing(unknown)
    assert raised.value is unknown

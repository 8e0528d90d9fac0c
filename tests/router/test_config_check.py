"""`llmrouter config check`: passes on the shipped example, and fails with one line on
each kind of config that would fail every request or stop a worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmrouter.cli import run
from llmrouter.router.config_loader import EXAMPLE_CONFIG

EXAMPLE = Path(EXAMPLE_CONFIG).read_text(encoding="utf-8")
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "LLAMA_API_KEY")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key of the example set (to placeholders) and no simulator."""
    monkeypatch.delenv("LLMROUTER_SIMULATOR_URL", raising=False)
    for name in KEYS:
        monkeypatch.setenv(name, "placeholder-not-a-key")


def _check(path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str, str]:
    code = run(["config", "check", "--config", str(path), *options])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("keys")
def test_the_example_passes_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    code, out, err = _check(path, capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"{path}: ok\n")
    assert "tasks (6):" in out
    assert "moderation: cascade claude-3-haiku > gpt-4-turbo, fallback claude-3-opus" in out
    assert "mistral-large: openai-compatible mistral-large-2407" in out
    assert "(not used by any route)" in out
    # every model says where its prices come from
    models = out.split("models (", 1)[1].splitlines()[1:]
    assert models
    assert all(", prices " in line for line in models if line.startswith("  "))
    assert "missing API keys" not in out


BROKEN = {
    "json-braces": (
        ('Reply with JSON only: {{"label"', 'Reply with JSON only: {"label"'),
        "tasks.moderation.prompt.template (line",
    ),
    "unclosed-placeholder": (
        ("Knowledge base: {kb_context}", "Knowledge base: {kb_context"),
        "unbalanced '{'",
    ),
    "undeclared-variable": (
        ("Question: {question}\n        Provide", "Question: {questio}\n        Provide"),
        "unknown variable {questio}",
    ),
    "override-template": (
        ("### Question\n            {question}", "### Question\n            {question"),
        "tasks.customer-support-qa.prompt.overrides.llama-3-70b.template",
    ),
    "unknown-model": (
        ("model: gpt-3.5-turbo\n      fallback", "model: gpt-5\n      fallback"),
        "unknown model 'gpt-5'",
    ),
    "misspelt-key": (("    volume_per_day: 500\n", "    volume_per_dya: 500\n"), "unknown key"),
    "bad-yaml": (("version: 1\n", "version: [1\n"), "invalid YAML"),
    "duplicate-key": (
        (
            "  moderation:\n",
            "  legal-document-analysis:\n    route: {strategy: static, model: x}\n  moderation:\n",
        ),
        "duplicate key",
    ),
    "bad-max-age": (("    max_output_tokens: 100\n", "    max_age_s: -5\n"), "max_age_s"),
}


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_config_fails_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (old, new), expected = BROKEN[name]
    assert old in EXAMPLE, "the test edits a line the example has"
    path = tmp_path / f"{name}.yaml"
    path.write_text(EXAMPLE.replace(old, new, 1), encoding="utf-8")
    code, out, err = _check(path, capsys)
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("llmrouter: error: ")
    assert expected in err


@pytest.mark.usefixtures("keys")
def test_missing_keys_are_listed_and_fail_only_when_required(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    path = tmp_path / "example.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    # a config repository's CI has no keys: the check passes and lists what is missing
    code, out, err = _check(path, capsys)
    assert (code, err) == (0, "")
    listed = out.split("missing API keys (", 1)[1].splitlines()[1:]
    assert listed
    assert all("set environment variable ANTHROPIC_API_KEY" in line for line in listed)
    assert any("'claude-3-haiku'" in line for line in listed)
    # where the keys must be there, the check fails naming the variable
    code, _, err = _check(path, capsys, "--require-keys")
    assert code != 0
    assert err.count("\n") == 1, err
    assert "set environment variable ANTHROPIC_API_KEY" in err
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", "http://127.0.0.1:1")  # needs no key
    code, out, _ = _check(path, capsys, "--require-keys")
    assert code == 0
    assert "simulator: every model is served by http://127.0.0.1:1" in out

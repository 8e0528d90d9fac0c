"""The LiteLLM virtualenv: a failure to make it is a reason, never an exception."""

from __future__ import annotations

from pathlib import Path

from bench.litellm_env import PINS, make_env


def test_a_virtualenv_that_cannot_be_made_gives_the_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env = make_env(blocker / "venv", tmp_path / "install.log", timeout_s=120)
    assert env.python is None
    assert env.reason.startswith(f"cannot make {blocker}")


def test_a_failed_step_gives_its_command_and_last_error_line(tmp_path: Path) -> None:
    # `python -m venv` refuses to make a virtualenv where a file is.
    (tmp_path / "venv").write_text("")
    env = make_env(tmp_path / "venv", tmp_path / "install.log", timeout_s=120)
    assert env.python is None
    assert env.reason.startswith("`-m venv --clear` exited 1: ")
    assert (tmp_path / "install.log").read_text()


def test_a_made_virtualenv_with_the_same_pins_is_reused(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / "bench-pins.txt").write_text("\n".join(PINS) + "\n")
    env = make_env(venv, tmp_path / "install.log", timeout_s=1)
    assert env.python == venv / "bin" / "python"
    assert not (tmp_path / "install.log").exists()  # nothing was run

"""The command line reports every user mistake as one line and a non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llmrouter.cli import run

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("llmrouter: error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "expected", "status"),
    [
        (["route", "--task", "t", "--input", "x", "--tier", "gold"], "'free', 'paid'", 2),
        (["route", "--task", "t", "--input", "x", "--priority", "now"], "'realtime'", 2),
        (["route", "--task", "t"], "Missing option '--input'", 2),
        (["route", "--task", "t", "--input", "x", "--bogus"], "--bogus", 2),
        (["nosuch"], "No such command 'nosuch'", 2),
        (["kafka", "nosuch"], "llmrouter kafka --help", 2),
        (["worker", "gold"], "'classifier', 'router'", 2),
        (["report", "--format", "xml"], "'table', 'json', 'csv'", 2),
        (["sim", "--port", "abc"], "--port", 2),
        (["produce", "--task", "t"], "exactly one of --input or --file", 1),
        (["route", "--task", "t", "--input", "x", "--context", "novalue"], "KEY=VALUE", 1),
        (["route", "--task", "t", "--input", "x", "--config", "/nonexistent.yaml"], "", 1),
        (["export-finetune", "--task", "moderation", "--model", "gpt-5", "--out", "x"], "gpt-5", 1),
        (
            ["export-finetune", "--task", "nosuch", "--model", "gpt-4-turbo", "--out", "x"],
            "nosuch",
            1,
        ),
        (["report", "--task", "nosuch"], "baseline is unknown", 1),
    ],
)
def test_user_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str, status: int
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == status
    assert expected in _one_error_line(err)
    assert "Traceback" not in err
    assert "pydantic.dev" not in err
    assert out == ""


def test_version_and_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--version")
    assert code == 0
    assert out.startswith("llmrouter ")
    code, out, _ = _run(capsys, "-h")
    assert code == 0
    assert "produce" in out
    assert "export-finetune" in out
    code, out, _ = _run(capsys, "produce", "-h")
    assert code == 0
    assert "--context" in out
    assert "--priority" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert code == 2
    assert "Usage" in out + err


def test_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "llmrouter", "sim", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert done.returncode == 1
    line = _one_error_line(done.stderr.replace("simulator stopped", ""))
    assert f"127.0.0.1:{port} is already in use" in line

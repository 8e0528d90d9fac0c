"""The command table in docs/commands.md lists every command and every option of each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from llmrouter import cli

COMMANDS_DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, list[str]]]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in sorted(subcommands.items()):
            yield from _commands(sub, (*path, name))
        return
    names = []
    for param in command.params:
        if param.param_type_name == "argument":
            names.append(param.name.upper())
        else:
            long = [o for o in param.opts if o.startswith("--")]
            if long and long[0] != "--help":
                names.append(long[0])
    yield " ".join(path), names


def _table_rows() -> list[str]:
    text = COMMANDS_DOC.read_text(encoding="utf-8")
    section = text.split("## Command table", 1)[1].split("\n## ", 1)[0]
    return [
        line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `llmrouter")
    ]


def test_every_command_and_option_is_in_the_command_table() -> None:
    cli.run(["--version"])  # registers the commands
    rows = _table_rows()
    missing = []
    for path, options in _commands(typer.main.get_command(cli.app)):
        row = next((r for r in rows if r.startswith(f"| `llmrouter {path}")), None)
        if row is None:
            missing.append(f"llmrouter {path}")
            continue
        missing += [
            f"llmrouter {path} {o}" for o in options if not re.search(rf"{re.escape(o)}\b", row)
        ]
    assert not missing, f"missing from the command table of docs/commands.md: {missing}"

"""A pluggable cascade scorer for tests: unsure about anything that says it is unsure."""

from __future__ import annotations


def unsure_marker(task: str, text: str, output: str) -> float | None:
    del task, output
    return 0.3 if "unsure" in text else 0.97

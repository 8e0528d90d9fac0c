"""`llmrouter demo` beside a live deployment: its consumer groups are never the live ones."""

from __future__ import annotations

import pytest

from llmrouter.cli.demo import DEMO_GROUP_PREFIX, demo_settings
from llmrouter.workers.launch import CLASSIFIER_GROUP


def test_the_demo_honours_the_group_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMROUTER_GROUP_PREFIX", "team-a-")
    assert demo_settings("127.0.0.1:9092").group_prefix == "team-a-"


def test_without_a_prefix_the_demo_has_groups_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMROUTER_GROUP_PREFIX", raising=False)
    monkeypatch.delenv("LLMROUTER_TASKS_PATTERN", raising=False)
    monkeypatch.setenv("LLMROUTER_METRICS_PORT", "9400")
    settings = demo_settings("127.0.0.1:9092")
    assert settings.group_prefix == DEMO_GROUP_PREFIX
    assert settings.group_prefix + CLASSIFIER_GROUP != CLASSIFIER_GROUP
    assert settings.metrics_port == -1, "no port taken from a live worker on the same host"
    assert settings.tasks_pattern is None, "only the config's tasks are read"

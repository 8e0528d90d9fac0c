"""WorkerSettings: the LLMROUTER_* variables, errors that name them, and the runtime's
defaults taken from WorkerOptions, never repeated."""

from __future__ import annotations

import os
import socket

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router import RoutingEngine
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.runtime.options import WorkerOptions
from llmrouter.workers.launch import ROUTER_GROUP, WorkerSettings, build_worker

#: every variable a worker has always been started with, and a value of it
VARIABLES = {
    "LLMROUTER_INSTANCE_ID": ("instance_id", "pod-3"),
    "LLMROUTER_MAX_IN_FLIGHT": ("max_in_flight", 12),
    "LLMROUTER_GRACE_S": ("grace_s", 1.5),
    "LLMROUTER_MAX_MESSAGE_BYTES": ("max_message_bytes", 2048),
    "LLMROUTER_PARTITIONS": ("partitions", 6),
    "LLMROUTER_METADATA_MAX_AGE_MS": ("metadata_max_age_ms", 500),
    "LLMROUTER_GROUP_PREFIX": ("group_prefix", "team-a-"),
    "LLMROUTER_TASKS_PATTERN": ("tasks_pattern", "qa-.*"),
    "LLMROUTER_SESSION_TIMEOUT_MS": ("session_timeout_ms", 7000),
    "LLMROUTER_METRICS_PORT": ("metrics_port", -1),
    "LLMROUTER_METRICS_HOST": ("metrics_host", "127.0.0.1"),
    "LLMROUTER_HEALTH_PROBE_S": ("health_probe_s", 0.25),
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*VARIABLES, "LLMROUTER_CREATE_TOPICS"]:
        monkeypatch.delenv(name, raising=False)


def test_every_variable_sets_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, (_, value) in VARIABLES.items():
        monkeypatch.setenv(variable, str(value))
    settings = WorkerSettings.from_env(KafkaSettings())
    for variable, (field, value) in VARIABLES.items():
        assert getattr(settings, field) == value, variable
    assert {WorkerSettings.env_name(field) for field, _ in VARIABLES.values()} == set(VARIABLES)


def test_given_values_win_and_none_is_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMROUTER_MAX_IN_FLIGHT", "12")
    monkeypatch.setenv("LLMROUTER_GRACE_S", "2")
    settings = WorkerSettings.from_env(KafkaSettings(), max_in_flight=7, grace_s=None)
    assert settings.max_in_flight == 7
    assert settings.grace_s == 2.0
    monkeypatch.setenv("LLMROUTER_GROUP_PREFIX", "")  # empty: unset
    assert WorkerSettings.from_env(KafkaSettings()).group_prefix == ""


def test_the_runtime_defaults_are_worker_options_own() -> None:
    settings = WorkerSettings.from_env(KafkaSettings())
    runtime = WorkerOptions(name="w", group_id="g", pattern=".*", transactional_id="t")
    for field in ("max_in_flight", "grace_s", "metadata_max_age_ms", "session_timeout_ms"):
        assert getattr(settings, field) == getattr(runtime, field), field
    assert settings.instance_id == f"{socket.gethostname()}-{os.getpid()}"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LLMROUTER_MAX_IN_FLIGHT", "lots"),
        ("LLMROUTER_MAX_IN_FLIGHT", "0"),
        ("LLMROUTER_METRICS_PORT", "70000"),
        ("LLMROUTER_HEALTH_PROBE_S", "-1"),
        ("LLMROUTER_CREATE_TOPICS", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        WorkerSettings.from_env(KafkaSettings())
    assert caught.value.key == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert value not in str(caught.value).removeprefix(f"{variable}: ")


async def test_the_worker_runs_with_the_settings_values() -> None:
    router = RoutingEngine(load_config(EXAMPLE_CONFIG))
    try:
        settings = WorkerSettings(
            kafka=KafkaSettings(),
            instance_id="i-1",
            group_prefix="p-",
            max_in_flight=9,
            grace_s=3.0,
            metadata_max_age_ms=800,
            session_timeout_ms=6500,
        )
        options = build_worker("router", router, settings).options
    finally:
        await router.aclose()
    assert options.group_id == "p-" + ROUTER_GROUP
    assert options.transactional_id == f"p-{ROUTER_GROUP}-i-1"
    assert (options.max_in_flight, options.grace_s) == (9, 3.0)
    assert (options.metadata_max_age_ms, options.session_timeout_ms) == (800, 6500)

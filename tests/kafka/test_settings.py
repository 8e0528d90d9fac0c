"""KafkaSettings from the KAFKA_* variables: errors name the variable, and the password
never shows (repr, str, errors). tests/workers/test_kafka_security.py checks that every
client gets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.kafkaio.settings import KafkaSettings

PASSWORD = "s3cret-of-the-env"
VARIABLES = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SASL_PASSWORD_FILE",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_every_variable_names_a_field() -> None:
    assert {KafkaSettings.env_name(f) for f in KafkaSettings.model_fields} == set(VARIABLES)


def test_the_defaults_are_a_local_plaintext_broker() -> None:
    settings = KafkaSettings.from_env()
    assert settings.client_kwargs() == {
        "bootstrap_servers": "localhost:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert KafkaSettings.from_env("b:9093").bootstrap_servers == "b:9093"


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "plain")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "router")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    settings = KafkaSettings.from_env()
    assert settings.client_kwargs()["sasl_plain_password"] == PASSWORD
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert PASSWORD not in shown
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", PASSWORD)  # a secret pasted in the wrong place
    with pytest.raises(ConfigError, match="KAFKA_SASL_MECHANISM") as caught:
        KafkaSettings.from_env()
    assert PASSWORD not in str(caught.value)


def test_the_password_file_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "password").write_text("from-the-file\n")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "router")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "password"))
    assert KafkaSettings.from_env().client_kwargs()["sasl_plain_password"] == "from-the-file"
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"^KAFKA_SASL_PASSWORD_FILE: cannot read"):
        KafkaSettings.from_env()


def test_sasl_needs_a_mechanism(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError) as caught:
        KafkaSettings.from_env()
    assert caught.value.key == "KAFKA_SASL_MECHANISM"

"""Kafka security settings from the environment reach every Kafka client we create."""

from __future__ import annotations

import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from llmrouter.core.errors import ConfigError
from llmrouter.kafkaio import transactions as kafka_transactions
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.producers import client as producer_client
from llmrouter.runtime import worker as runtime_worker

SASL_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9096",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "scram-sha-512",
    "KAFKA_SASL_USERNAME": "router",
}


@pytest.fixture
def sasl_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    password_file = tmp_path / "password"
    password_file.write_text("s3cret-from-a-mounted-file\n")
    for key, value in SASL_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(password_file))
    return "s3cret-from-a-mounted-file"


def test_settings_from_env(sasl_env: str) -> None:
    settings = KafkaSettings.from_env()
    kwargs = settings.client_kwargs()
    assert kwargs["bootstrap_servers"] == "broker-1:9096"
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "router"
    assert kwargs["sasl_plain_password"] == sasl_env
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert sasl_env not in repr(settings), "the password never shows in a repr or a log line"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN"},
            "KAFKA_SASL_USERNAME",
        ),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], key: str
) -> None:
    for name in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=key):
        KafkaSettings.from_env()


class _Recorder:
    """Stands in for an aiokafka client class and records how it was built."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _Recorder.calls.append((type(self).__name__, kwargs))

    async def start(self) -> None:
        raise _Stop

    async def close(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class _Stop(Exception):
    pass


class Producer(_Recorder):
    pass


class Consumer(_Recorder):
    pass


class Admin(_Recorder):
    pass


async def test_every_client_gets_the_settings(
    sasl_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiokafka.admin

    from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
    from llmrouter.workers.launch import WorkerSettings, build_worker, prepare_topics

    _Recorder.calls.clear()
    monkeypatch.setattr(runtime_worker, "AIOKafkaConsumer", Consumer)
    monkeypatch.setattr(producer_client, "AIOKafkaProducer", Producer)
    monkeypatch.setattr(producer_client, "AIOKafkaConsumer", Consumer)
    monkeypatch.setattr(kafka_transactions, "AIOKafkaProducer", Producer)
    monkeypatch.setattr(aiokafka.admin, "AIOKafkaAdminClient", Admin)

    settings = WorkerSettings.from_env(KafkaSettings.from_env())
    config = load_config(EXAMPLE_CONFIG)
    from llmrouter.router import RoutingEngine

    router = RoutingEngine(config)
    with pytest.raises(_Stop):
        await build_worker("router", router, settings)._publisher._new_producer()
    worker = build_worker("classifier", router, settings)

    async def no_producer() -> (
        Any
    ):  # a producer with nothing behind it: only the consumer is checked
        return SimpleNamespace(_sender=SimpleNamespace())

    monkeypatch.setattr(worker._publisher, "_new_producer", no_producer)
    with pytest.raises(_Stop):
        await worker.start()  # the consumer's start raises
    assert {"Producer", "Consumer"} <= {name for name, _ in _Recorder.calls}
    with pytest.raises(_Stop):
        await producer_client.RequestProducer(KafkaSettings.from_env()).__aenter__()
    with pytest.raises(_Stop):
        await producer_client.ResultWaiter(KafkaSettings.from_env(), ["moderation"]).start()
    with pytest.raises(_Stop):
        await prepare_topics(config, settings)
    await router.aclose()

    kinds = {name for name, _ in _Recorder.calls}
    assert kinds == {"Producer", "Consumer", "Admin"}
    # 2 transactional-worker clients, the admin client reading the brokers' message size
    # limit as the worker starts, producer, waiter, admin
    assert len(_Recorder.calls) == 6
    for name, kwargs in _Recorder.calls:
        assert kwargs["security_protocol"] == "SASL_SSL", name
        assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512", name
        assert kwargs["sasl_plain_password"] == sasl_env, name
        assert isinstance(kwargs["ssl_context"], ssl.SSLContext), name

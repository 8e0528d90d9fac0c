"""Connection settings for every Kafka client the project creates, from the environment.

| variable                    | meaning                                             |
| --------------------------- | --------------------------------------------------- |
| KAFKA_BOOTSTRAP_SERVERS     | host:port[,host:port] (default localhost:9092)      |
| KAFKA_SECURITY_PROTOCOL     | PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL          |
| KAFKA_SASL_MECHANISM        | PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512               |
| KAFKA_SASL_USERNAME         | SASL user                                           |
| KAFKA_SASL_PASSWORD(_FILE)  | SASL password, or a file holding it (mounted secret)|
| KAFKA_SSL_CAFILE            | CA bundle that signed the brokers' certificates     |
| KAFKA_SSL_CERTFILE/KEYFILE  | client certificate and key, for mutual TLS          |
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrouter.core.errors import ConfigError

__all__ = ["KafkaSettings"]

_PROTOCOLS = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}
_MECHANISMS = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = "localhost:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @classmethod
    def from_env(cls, bootstrap_servers: str | None = None) -> KafkaSettings:
        env = os.environ
        password = env.get("KAFKA_SASL_PASSWORD")
        password_file = env.get("KAFKA_SASL_PASSWORD_FILE")
        if password_file:
            try:
                password = Path(password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read {password_file}: {exc.strerror}", key="KAFKA_SASL_PASSWORD_FILE"
                ) from None
        settings = cls(
            bootstrap_servers=bootstrap_servers
            or env.get("KAFKA_BOOTSTRAP_SERVERS")
            or "localhost:9092",
            security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            sasl_mechanism=(env.get("KAFKA_SASL_MECHANISM") or "").upper() or None,
            sasl_username=env.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=password or None,
            ssl_cafile=env.get("KAFKA_SSL_CAFILE") or None,
            ssl_certfile=env.get("KAFKA_SSL_CERTFILE") or None,
            ssl_keyfile=env.get("KAFKA_SSL_KEYFILE") or None,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.security_protocol not in _PROTOCOLS:
            raise ConfigError(
                f"must be one of {', '.join(sorted(_PROTOCOLS))}", key="KAFKA_SECURITY_PROTOCOL"
            )
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism not in _MECHANISMS:
                raise ConfigError(
                    f"must be one of {', '.join(sorted(_MECHANISMS))}", key="KAFKA_SASL_MECHANISM"
                )
            if not self.sasl_username or not self.sasl_password:
                raise ConfigError(
                    "SASL needs a user and a password",
                    key="KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD",
                )

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by aiokafka's producer, consumer and admin client."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol.endswith("SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            kwargs["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

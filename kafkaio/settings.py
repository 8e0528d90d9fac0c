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

The protocol and mechanism are read in any case. The password is a `SecretStr`: it shows
in no repr, log line or error.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from llmrouter.core.errors import ConfigError
from llmrouter.core.settings import EnvSettings

__all__ = ["KafkaSettings", "SaslMechanism", "SecurityProtocol"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_")
    secret_files: ClassVar[Mapping[str, str]] = {"sasl_password_file": "sasl_password"}

    bootstrap_servers: str = "localhost:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    #: read from `sasl_password_file` when that is set (a mounted secret), which wins
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @classmethod
    def from_env(cls, bootstrap_servers: str | None = None) -> KafkaSettings:
        """The KAFKA_* variables; `bootstrap_servers`, when given, wins over its variable."""
        return cls.from_environment(bootstrap_servers=bootstrap_servers)

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ConfigError(
                    f"{self.security_protocol} needs a mechanism: PLAIN, SCRAM-SHA-256 or "
                    "SCRAM-SHA-512",
                    key=self.env_name("sasl_mechanism"),
                )
            if not self.sasl_username or not self.sasl_password:
                raise ConfigError(
                    "SASL needs a user and a password",
                    key=f"{self.env_name('sasl_username')}/{self.env_name('sasl_password')}",
                )
        return self

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
            kwargs["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return kwargs

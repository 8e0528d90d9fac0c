"""Settings read from the environment (pydantic-settings), whose errors name the variable.

A settings class names its variables by its `env_prefix` and its field names
(`KAFKA_` + `security_protocol` is KAFKA_SECURITY_PROTOCOL); an empty variable counts as
unset. `from_environment` reads them, lets the values it is given win, and turns pydantic's
ValidationError into our ConfigError naming the variable. The message never holds the
value: it may be a secret. A secret may also come from a file (`secret_files`): a mounted
Kubernetes Secret, say.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llmrouter.core.errors import ConfigError

__all__ = ["EnvSettings"]


class EnvSettings(BaseSettings):
    """Frozen settings; direct construction reads the environment too (pydantic-settings),
    but raises pydantic's ValidationError: `from_environment` is the way in that says
    what is wrong as a ConfigError."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_ignore_empty=True)

    #: field naming a file -> the field its text (stripped) sets, winning over that field
    secret_files: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable that sets `field`."""
        return (str(cls.model_config.get("env_prefix") or "") + field).upper()

    @classmethod
    def from_environment(cls, **values: Any) -> Self:
        """The given values (None: not given) win over the environment, then the defaults."""
        try:
            return cls(**{name: value for name, value in values.items() if value is not None})
        except ValidationError as exc:
            raise cls._config_error(exc) from None

    @classmethod
    def _config_error(cls, exc: ValidationError) -> ConfigError:
        said: list[tuple[str | None, str]] = []
        for error in exc.errors(include_input=False, include_url=False):
            raised = (error.get("ctx") or {}).get("error")
            if isinstance(raised, ConfigError):  # a validator of ours already named the key
                if len(exc.errors()) == 1:
                    return raised
                said.append((raised.key, str(raised.args[0]).removeprefix(f"{raised.key}: ")))
                continue
            loc = error["loc"]
            said.append((cls.env_name(str(loc[0])) if loc else None, error["msg"]))
        (key, message), *others = said
        if others:
            message += "; and " + "; ".join(f"{k}: {m}" if k else m for k, m in others)
        return ConfigError(message, key=key)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for file_field, field in cls.secret_files.items():
            if path := data.get(file_field):
                try:
                    secret = Path(path).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(
                        f"cannot read the password file {path}: {exc.strerror}",
                        key=cls.env_name(file_field),
                    ) from None
                data = {**data, field: secret}
        return data

"""What every message of the contract shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from llmrouter.schemas.topics import TASK_NAME_PATTERN

__all__ = ["SCHEMA_VERSION", "RequestId", "TaskName", "UtcDatetime", "WireModel", "utc_now"]

SCHEMA_VERSION: Literal[1] = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def _assume_utc(value: datetime) -> datetime:
    # A producer in another language may send a naive timestamp; UTC is the only sane reading.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]
TaskName = Annotated[str, StringConstraints(pattern=rf"^{TASK_NAME_PATTERN}$", max_length=200)]
RequestId = Annotated[str, Field(min_length=1, max_length=256)]


class WireModel(BaseModel):
    """Base of every message. Unknown fields are ignored so that newer producers with
    extra fields do not break older workers; `schema_version` says which contract applies."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False, ser_json_timedelta="float")

    schema_version: Literal[1] = SCHEMA_VERSION

"""Messages that could not be processed, on `llm.dlq`, with the reason and the original bytes."""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from llmrouter.schemas.base import UtcDatetime, WireModel, utc_now

__all__ = ["DeadLetter", "encode_payload"]


class DeadLetter(WireModel):
    stage: str = Field(description="Where it failed: `classify`, `route`, `replay`, ...")
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    error_type: str = Field(description="The error class, e.g. InvalidMessage or AllModelsFailed.")
    error: str = Field(description="A short, secret-free reason.")
    payload: str = Field(description="The original value: text when valid UTF-8, else base64.")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    key: str | None = None
    request_id: str | None = None
    worker: str | None = Field(
        default=None, description="The kind of worker that wrote it: `classifier` or `router`."
    )
    group_id: str | None = Field(
        default=None, description="Its consumer group, which names the deployment."
    )
    instance_id: str | None = Field(default=None, description="The worker instance that wrote it.")
    ts: UtcDatetime = Field(default_factory=utc_now)

    def original_bytes(self) -> bytes:
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode()


def encode_payload(raw: bytes | None) -> tuple[str, Literal["utf-8", "base64"]]:
    """The payload field and its encoding for the original message bytes."""
    if raw is None:
        return "", "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"

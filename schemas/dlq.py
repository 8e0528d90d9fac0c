"""Messages that could not be processed, on `llm.dlq`, with the reason and the original bytes."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from llmrouter.schemas.base import UtcDatetime, WireModel, utc_now

__all__ = [
    "PAYLOAD_PREFIX_BYTES",
    "DeadLetter",
    "PayloadPrefix",
    "encode_payload",
    "payload_prefix",
]

#: the most of the original value a dead letter carries: enough to see what was sent,
#: small enough that a dead letter always fits in a Kafka record
PAYLOAD_PREFIX_BYTES = 8192


class DeadLetter(WireModel):
    stage: str = Field(description="Where it failed: `classify`, `route`, `replay`, ...")
    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    error_type: str = Field(description="The error class, e.g. InvalidMessage or AllModelsFailed.")
    error: str = Field(description="A short, secret-free reason.")
    payload: str = Field(
        description="The original value, or its first bytes when `payload_truncated`: text"
        " when valid UTF-8, else base64."
    )
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_size_bytes: int | None = Field(
        default=None, ge=0, description="The size of the whole original value, in bytes."
    )
    payload_sha256: str | None = Field(
        default=None, description="The SHA-256 of the whole original value, in hex."
    )
    payload_truncated: bool = Field(
        default=False,
        description="`payload` holds only the first bytes of the value (see `payload_size_bytes`).",
    )
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
        """The original value, or its first bytes when `payload_truncated`."""
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


@dataclass(frozen=True, slots=True)
class PayloadPrefix:
    """The dead-letter fields describing an original value: its first bytes, encoded,
    with the size and digest of the whole."""

    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    payload_size_bytes: int
    payload_sha256: str
    payload_truncated: bool


def payload_prefix(raw: bytes | None, limit_bytes: int = PAYLOAD_PREFIX_BYTES) -> PayloadPrefix:
    """At most `limit_bytes` of `raw` (cut at a character boundary when it is UTF-8 text),
    with the size and SHA-256 of all of it."""
    data = raw or b""
    head = data[:limit_bytes]
    if len(head) < len(data):
        head = _whole_characters(head)
    payload, encoding = encode_payload(head if raw is not None else None)
    return PayloadPrefix(
        payload=payload,
        payload_encoding=encoding,
        payload_size_bytes=len(data),
        payload_sha256=hashlib.sha256(data).hexdigest(),
        payload_truncated=len(head) < len(data),
    )


def _whole_characters(head: bytes) -> bytes:
    """`head` less a UTF-8 character cut in two at its end (at most 3 bytes), if that
    makes it valid text; else `head` as it is (it goes out as base64)."""
    for cut in range(4):
        candidate = head[: len(head) - cut]
        try:
            candidate.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return candidate
    return head

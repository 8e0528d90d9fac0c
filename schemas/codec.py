"""The one place where messages become bytes and bytes become messages.

Parsing uses pydantic's Rust JSON parser directly on the bytes (no intermediate dict);
plain objects go through orjson. A bad message raises `InvalidMessage` with a short reason
that names the fields at fault, never a traceback's worth of text.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from llmrouter.core.errors import InvalidMessage

__all__ = ["decode", "dumps", "encode", "loads", "peek_request_id"]

M = TypeVar("M", bound=BaseModel)

_MAX_REASONS = 3


def encode(message: BaseModel) -> bytes:
    """Message → UTF-8 JSON bytes, as written to Kafka."""
    return message.__pydantic_serializer__.to_json(message, exclude_none=False)


def decode(raw: bytes | str | None, model: type[M]) -> M:
    """UTF-8 JSON bytes → message of `model`, or InvalidMessage saying why not."""
    if raw is None or raw in (b"", ""):
        raise InvalidMessage("empty message value")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidMessage(
            _summarise(exc, model.__name__), request_id=peek_request_id(raw)
        ) from None


def _summarise(exc: ValidationError, name: str) -> str:
    reasons = []
    for err in exc.errors(include_input=False, include_url=False)[:_MAX_REASONS]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        reasons.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(reasons)
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"not a valid {name}: " + "; ".join(reasons) + suffix


def peek_request_id(raw: bytes | str | None) -> str | None:
    """The request_id of a message that may be otherwise invalid, for dead letters."""
    if not raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    rid = obj.get("request_id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) and rid else None


def dumps(obj: Any) -> bytes:
    """Plain object → JSON bytes (for things that are not contract messages)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads(raw: bytes | str) -> Any:
    """JSON bytes → plain object (for things that are not contract messages)."""
    return orjson.loads(raw)

"""Translate the `openai` and `anthropic` SDKs' exceptions into our error tree.

Each SDK exception class is named in a table of its own module (openai_errors.py,
anthropic_errors.py), loaded only once an exception of that SDK is translated, so a
worker never imports an SDK its config does not use. `tests/router/test_provider_errors.py`
fails when an SDK release adds a class we have not decided about. At run time an unknown
subclass still resolves through its MRO, so a new SDK never lets a raw exception escape.
"""

from __future__ import annotations

import email.utils
import importlib
import re
import time
from collections.abc import Mapping
from typing import Any

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentPolicyViolation,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from llmrouter.router.secrets import redact

# OPENAI_ERRORS and ANTHROPIC_ERRORS are importable from here too (see __getattr__).
__all__ = [
    "ErrorTable",
    "parse_retry_after_s",
    "translate_sdk_error",
]

ErrorTable = Mapping[type[BaseException], type[ProviderError]]

#: SDK (top-level module name) → (module of its table, the table's name)
_TABLES = {
    "openai": ("llmrouter.router.providers.openai_errors", "OPENAI_ERRORS"),
    "anthropic": ("llmrouter.router.providers.anthropic_errors", "ANTHROPIC_ERRORS"),
}
_BY_NAME = {name: (module, name) for module, name in _TABLES.values()}


def __getattr__(name: str) -> Any:
    """`OPENAI_ERRORS` / `ANTHROPIC_ERRORS`, importing that SDK on first use."""
    if name in _BY_NAME:
        module, attr = _BY_NAME[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _table_for(cls: type[BaseException]) -> ErrorTable:
    """The table of the SDK that defines `cls` or one of its bases (empty: not an SDK's)."""
    for base in cls.__mro__:
        found = _TABLES.get(base.__module__.partition(".")[0])
        if found is not None:
            table: ErrorTable = getattr(importlib.import_module(found[0]), found[1])
            return table
    return {}


_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens"
    r"|reduce the length",
    re.IGNORECASE,
)
_CONTENT_POLICY = re.compile(r"content[_ ](policy|filter|management)|safety system", re.IGNORECASE)
_MAX_MESSAGE_CHARS = 300


def translate_sdk_error(exc: BaseException, *, model: str, provider: str) -> ProviderError:
    """The ProviderError for an SDK (or transport) exception raised by one call."""
    target = _lookup(type(exc), _table_for(type(exc)))
    if target is None:  # not an SDK class: a transport error or an unreadable body
        if isinstance(exc, TimeoutError):
            target = ProviderTimeout
        elif isinstance(exc, ValueError):  # the SDKs let json.JSONDecodeError through
            target = MalformedResponse
        else:
            target = ProviderUnavailable
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    message = _message(exc)
    if target is ProviderError and status is not None:
        target = _by_status(status)
    if issubclass(target, BadRequest) and target is BadRequest:
        detail = f"{getattr(exc, 'code', '') or ''} {message}"
        if _CONTEXT_LENGTH.search(detail):
            target = ContextLengthExceeded
        elif _CONTENT_POLICY.search(detail):
            target = ContentPolicyViolation
    kwargs: dict[str, Any] = {"model": model, "provider": provider, "status_code": status}
    if target is RateLimited:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return RateLimited(message, retry_after_s=parse_retry_after_s(headers), **kwargs)
    return target(message, **kwargs)


def _lookup(cls: type[BaseException], table: ErrorTable) -> type[ProviderError] | None:
    for base in cls.__mro__:
        if base in table:
            return table[base]
    return None


def _by_status(status: int) -> type[ProviderError]:
    if status == 429:
        return RateLimited
    if status in (401, 403):
        return AuthenticationFailed
    if status == 402:
        return QuotaExceeded
    if status in (408, 504):
        return ProviderTimeout
    if status >= 500 or status == 409:
        return ProviderUnavailable
    return BadRequest


def _message(exc: BaseException) -> str:
    """A short, secret-free reason: the provider's own message when it sent one."""
    body = getattr(exc, "body", None)
    text: str | None = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            text = inner.get("message") if isinstance(inner.get("message"), str) else None
    if not text:
        text = str(exc) or type(exc).__name__
    text = redact(" ".join(text.split()))
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {text}"


def parse_retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After in seconds from `retry-after-ms`, or `retry-after` (seconds or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None

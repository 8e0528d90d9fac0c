"""Translate the provider SDKs' exceptions into our error tree.

Each SDK exception class is named in a table of its own module (openai_errors.py,
anthropic_errors.py, genai_errors.py, botocore_errors.py, google_auth_errors.py), loaded
only once an exception of that SDK is translated, so a worker never imports an SDK its
config does not use. A table's module may also `refine` an exception by what it carries
(Bedrock's error code, Gemini's invalid-key reason). `tests/router/test_provider_errors.py`
fails when an SDK release adds a class we have not decided about. At run time an unknown
subclass still resolves through its MRO, so a new SDK never lets a raw exception escape.
"""

from __future__ import annotations

import email.utils
import importlib
import re
import time
from collections.abc import Mapping
from types import ModuleType
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

#: SDK (its module's name, or the first one or two parts of it) → (module of its table,
#: the table's name)
_TABLES = {
    "openai": ("llmrouter.router.providers.openai_errors", "OPENAI_ERRORS"),
    "anthropic": ("llmrouter.router.providers.anthropic_errors", "ANTHROPIC_ERRORS"),
    "google.genai": ("llmrouter.router.providers.genai_errors", "GENAI_ERRORS"),
    "google.auth": ("llmrouter.router.providers.google_auth_errors", "GOOGLE_AUTH_ERRORS"),
    "botocore": ("llmrouter.router.providers.botocore_errors", "BOTOCORE_ERRORS"),
    "aiobotocore": ("llmrouter.router.providers.botocore_errors", "BOTOCORE_ERRORS"),
}
_BY_NAME = {name: (module, name) for module, name in _TABLES.values()}


def __getattr__(name: str) -> Any:
    """`OPENAI_ERRORS` / `ANTHROPIC_ERRORS`, importing that SDK on first use."""
    if name in _BY_NAME:
        module, attr = _BY_NAME[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _table_module(cls: type[BaseException]) -> tuple[ModuleType, str] | None:
    """The table module (and table name) of the SDK that defines `cls` or one of its bases."""
    for base in cls.__mro__:
        parts = base.__module__.split(".")
        for key in (".".join(parts[:2]), parts[0]):
            found = _TABLES.get(key)
            if found is not None:
                return importlib.import_module(found[0]), found[1]
    return None


def _table_for(cls: type[BaseException]) -> ErrorTable:
    """The table of the SDK that defines `cls` or one of its bases (empty: not an SDK's)."""
    found = _table_module(cls)
    if found is None:
        return {}
    table: ErrorTable = getattr(found[0], found[1])
    return table


def _refined(exc: BaseException) -> type[ProviderError] | None:
    """The class the SDK's table module gives this exception by what it carries, if any."""
    found = _table_module(type(exc))
    refine = getattr(found[0], "refine", None) if found is not None else None
    return refine(exc) if refine is not None else None


_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens"
    r"|reduce the length|exceeds the maximum number of tokens|input is too long",
    re.IGNORECASE,
)
_CONTENT_POLICY = re.compile(r"content[_ ](policy|filter|management)|safety system", re.IGNORECASE)
_MAX_MESSAGE_CHARS = 300
#: what AWS appends to a signature mismatch (the canonical request, with its signed
#: headers: a session token among them); cut off with everything after it
_SIGNING_DETAIL = re.compile(r"\s*The (Canonical String|String-to-Sign)\b.*", re.DOTALL)
#: cloud credentials an error text may echo: Google access tokens, AWS session tokens and
#: SigV4 signatures (the provider keys' shapes are router/secrets.py's)
_CLOUD_SECRETS = re.compile(
    r"ya29\.[\w.\-]{8,}|(?i:x-amz-security-token)[\"':=\s]+[\w/+=]{8,}|Signature=[0-9a-f]{16,}"
)


def translate_sdk_error(exc: BaseException, *, model: str, provider: str) -> ProviderError:
    """The ProviderError for an SDK (or transport) exception raised by one call."""
    target = _refined(exc) or _lookup(type(exc), _table_for(type(exc)))
    if target is None:  # not an SDK class: a transport error or an unreadable body
        if isinstance(exc, TimeoutError):
            target = ProviderTimeout
        elif isinstance(exc, ValueError):  # the SDKs let json.JSONDecodeError through
            target = MalformedResponse
        else:
            target = ProviderUnavailable
    status = _status_of(exc)
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


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status an SDK exception carries: `status_code` (openai, anthropic), `code`
    (google-genai), or botocore's response metadata."""
    for name in ("status_code", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


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
    if not text and isinstance(getattr(exc, "message", None), str):
        text = getattr(exc, "message", None)  # google-genai's own message, without its body
    if not text:
        text = str(exc) or type(exc).__name__
    text = _CLOUD_SECRETS.sub("[redacted]", _SIGNING_DETAIL.sub("", text))
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

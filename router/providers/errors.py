"""Translate the `openai` and `anthropic` SDKs' exceptions into our error tree.

Each SDK exception class is named in a table below; `tests/router/test_provider_errors.py`
fails when an SDK release adds a class we have not decided about. At run time an unknown
subclass still resolves through its MRO, so a new SDK never lets a raw exception escape.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import anthropic
import openai

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

__all__ = [
    "ANTHROPIC_ERRORS",
    "OPENAI_ERRORS",
    "SDK_ERRORS",
    "parse_retry_after_s",
    "translate_sdk_error",
]

#: What a provider call may raise that is the provider's fault, not ours: SDK errors,
#: transport errors, and unreadable bodies. Anything else is a bug and propagates as one.
SDK_ERRORS: tuple[type[BaseException], ...] = (
    openai.OpenAIError,
    anthropic.AnthropicError,
    OSError,
    TimeoutError,
    ValueError,
)

ErrorTable = Mapping[type[BaseException], type[ProviderError]]

OPENAI_ERRORS: ErrorTable = {
    openai.APITimeoutError: ProviderTimeout,
    openai.APIConnectionError: ProviderUnavailable,
    openai.RateLimitError: RateLimited,
    openai.InternalServerError: ProviderUnavailable,
    openai.ConflictError: ProviderUnavailable,  # the SDK itself treats 409 as retryable
    openai.AuthenticationError: AuthenticationFailed,
    openai.OAuthError: AuthenticationFailed,
    openai.PermissionDeniedError: AuthenticationFailed,
    openai.BadRequestError: BadRequest,
    openai.NotFoundError: BadRequest,
    openai.UnprocessableEntityError: BadRequest,
    openai.ContentFilterFinishReasonError: ContentPolicyViolation,
    openai.LengthFinishReasonError: MalformedResponse,
    openai.APIResponseValidationError: MalformedResponse,
    openai.APIStatusError: ProviderError,  # refined by status code
    openai.APIError: ProviderUnavailable,
    # Not raised by chat completions; mapped so nothing can escape untranslated.
    openai.InvalidWebhookSignatureError: ProviderError,
    openai.WebSocketConnectionClosedError: ProviderUnavailable,
    openai.WebSocketQueueFullError: ProviderUnavailable,
    openai._exceptions.SubjectTokenProviderError: AuthenticationFailed,
    openai.OpenAIError: ProviderError,
}

ANTHROPIC_ERRORS: ErrorTable = {
    anthropic.APITimeoutError: ProviderTimeout,
    anthropic.APIConnectionError: ProviderUnavailable,
    anthropic.RateLimitError: RateLimited,
    anthropic.EnforcedSpendLimitReachedError: QuotaExceeded,
    anthropic.ContractSpendLimitReachedError: QuotaExceeded,
    anthropic.RampLimitExceededError: RateLimited,
    anthropic.OverloadedError: ProviderUnavailable,
    anthropic.InternalServerError: ProviderUnavailable,
    anthropic.ServiceUnavailableError: ProviderUnavailable,
    anthropic.GatewayTimeoutError: ProviderTimeout,
    anthropic.DeadlineExceededError: ProviderTimeout,
    anthropic.RequestTimeoutError: ProviderTimeout,
    anthropic.HTTPNotImplementedError: BadRequest,
    anthropic.CMEKContextUnavailableError: ProviderUnavailable,
    anthropic.CMEKKeyUnreachableError: ProviderUnavailable,
    anthropic.ClientClosedRequestError: ProviderUnavailable,
    anthropic.ConflictError: ProviderUnavailable,
    anthropic.AuthenticationError: AuthenticationFailed,
    anthropic.PermissionDeniedError: AuthenticationFailed,
    anthropic.SandboxEgressRestrictedError: AuthenticationFailed,
    anthropic.CredentialsError: AuthenticationFailed,
    anthropic.IdentityTokenFileError: AuthenticationFailed,
    anthropic.WorkloadIdentityError: AuthenticationFailed,
    anthropic.PaymentRequiredError: QuotaExceeded,
    anthropic.LinkedOrganizationBillingUnavailableError: QuotaExceeded,
    anthropic.LinkedOrganizationSpendLimitReachedError: QuotaExceeded,
    anthropic.OrganizationOnHoldError: QuotaExceeded,
    anthropic.BadRequestError: BadRequest,
    anthropic.CMEKKeyDisabledError: AuthenticationFailed,
    anthropic.CMEKKeyNetworkBlockedError: AuthenticationFailed,
    anthropic.ClaudeCodeKeyCreatorNotMemberError: AuthenticationFailed,
    anthropic.ClaudeCodeVersionTooOldError: BadRequest,
    anthropic.OrganizationTypeNotSupportedError: AuthenticationFailed,
    anthropic.ParentOrganizationRequiredError: AuthenticationFailed,
    anthropic.WorkspaceHumanReviewDisabledError: AuthenticationFailed,
    anthropic.RequestBodyEncodingInvalidError: BadRequest,
    anthropic.RequestBodyEncodingUnsupportedError: BadRequest,
    anthropic.NotFoundError: BadRequest,
    anthropic.PreconditionFailedError: BadRequest,
    anthropic.UnprocessableEntityError: BadRequest,
    anthropic.ContentTooLargeError: BadRequest,
    anthropic.RequestTooLargeError: BadRequest,
    anthropic.RequestBodyTooLargeAfterDecodingError: BadRequest,
    anthropic.RequestHeaderFieldsTooLargeError: BadRequest,
    anthropic.APIResponseValidationError: MalformedResponse,
    anthropic.APIWebhookValidationError: ProviderError,
    anthropic.APIStatusError: ProviderError,  # refined by status code
    anthropic.APIError: ProviderUnavailable,
    anthropic.RetryableError: ProviderUnavailable,
    anthropic.AnthropicError: ProviderError,
}

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens"
    r"|reduce the length",
    re.IGNORECASE,
)
_CONTENT_POLICY = re.compile(r"content[_ ](policy|filter|management)|safety system", re.IGNORECASE)
_MAX_MESSAGE_CHARS = 300


def translate_sdk_error(exc: BaseException, *, model: str, provider: str) -> ProviderError:
    """The ProviderError for an SDK (or transport) exception raised by one call."""
    table = ANTHROPIC_ERRORS if isinstance(exc, anthropic.AnthropicError) else OPENAI_ERRORS
    target = _lookup(type(exc), table)
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

"""Every SDK exception class is translated into our tree; none escapes, none leaks a key."""

from __future__ import annotations

import inspect
from types import ModuleType

import anthropic
import httpx2
import openai
import pytest

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentPolicyViolation,
    ContextLengthExceeded,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from llmrouter.router.providers.errors import (
    ANTHROPIC_ERRORS,
    OPENAI_ERRORS,
    parse_retry_after_s,
    translate_sdk_error,
)


def _exception_classes(*modules: ModuleType) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in modules:
        for obj in list(vars(module).values()):
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__.startswith(module.__name__.split(".")[0])
            ):
                found.add(obj)
    return found


@pytest.mark.parametrize(
    ("modules", "table"),
    [
        ((openai, openai._exceptions), OPENAI_ERRORS),
        ((anthropic, anthropic._exceptions), ANTHROPIC_ERRORS),
    ],
    ids=["openai", "anthropic"],
)
def test_every_sdk_exception_class_is_mapped(
    modules: tuple[ModuleType, ...], table: dict[type[BaseException], type[ProviderError]]
) -> None:
    """Fails when an SDK release adds an exception class we have not decided about."""
    unmapped = {
        cls.__qualname__
        for cls in _exception_classes(*modules)
        if cls not in table and not cls.__name__.startswith("_")
    }
    assert not unmapped, f"add these to router/providers/errors.py: {sorted(unmapped)}"


def _status_error(
    sdk: ModuleType,
    cls: type[Exception],
    status: int,
    body: object,
    headers: dict[str, str] | None = None,
) -> Exception:
    request = httpx2.Request("POST", "http://sim/v1/x")
    response = httpx2.Response(status, request=request, headers=headers or {})
    return cls("boom", response=response, body=body)  # type: ignore[call-arg]


def test_rate_limit_carries_retry_after() -> None:
    exc = _status_error(
        openai,
        openai.RateLimitError,
        429,
        {"error": {"message": "slow down"}},
        {"retry-after": "2"},
    )
    translated = translate_sdk_error(exc, model="gpt-4-turbo", provider="openai")
    assert isinstance(translated, RateLimited)
    assert translated.retry_after_s == 2.0
    assert translated.status_code == 429
    assert translated.retryable


def test_context_length_is_recognised_for_both_sdks() -> None:
    oa = _status_error(
        openai,
        openai.BadRequestError,
        400,
        {
            "error": {
                "message": "This model's maximum context length is 8192 tokens",
                "code": "context_length_exceeded",
            }
        },
    )
    an = _status_error(
        anthropic,
        anthropic.BadRequestError,
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 210000 tokens > 200000 maximum",
            },
        },
    )
    assert isinstance(translate_sdk_error(oa, model="m", provider="openai"), ContextLengthExceeded)
    assert isinstance(
        translate_sdk_error(an, model="m", provider="anthropic"), ContextLengthExceeded
    )


def test_content_policy_and_plain_bad_request() -> None:
    policy = _status_error(
        openai,
        openai.BadRequestError,
        400,
        {
            "error": {
                "message": "Your request was rejected by our safety system",
                "code": "content_policy_violation",
            }
        },
    )
    plain = _status_error(
        openai, openai.BadRequestError, 400, {"error": {"message": "bad temperature"}}
    )
    assert isinstance(
        translate_sdk_error(policy, model="m", provider="openai"), ContentPolicyViolation
    )
    bad = translate_sdk_error(plain, model="m", provider="openai")
    assert type(bad) is BadRequest
    assert not bad.retryable


def test_overloaded_is_retryable_unavailable() -> None:
    exc = _status_error(
        anthropic,
        anthropic.OverloadedError,
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    translated = translate_sdk_error(exc, model="claude-3-haiku", provider="anthropic")
    assert isinstance(translated, ProviderUnavailable)
    assert translated.retryable


def test_auth_error_message_never_contains_the_key() -> None:
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"
    exc = _status_error(
        openai,
        openai.AuthenticationError,
        401,
        {"error": {"message": f"Incorrect API key provided: {key}."}},
    )
    translated = translate_sdk_error(exc, model="m", provider="openai")
    assert isinstance(translated, AuthenticationFailed)
    assert key not in str(translated)
    assert "[redacted]" in str(translated)


def test_transport_and_body_errors_are_translated() -> None:
    translated = translate_sdk_error(ConnectionResetError("reset"), model="m", provider="openai")
    assert isinstance(translated, ProviderUnavailable)
    unreadable = translate_sdk_error(
        ValueError("Unterminated string"), model="m", provider="openai"
    )
    assert isinstance(unreadable, MalformedResponse)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after_s(headers) == expected

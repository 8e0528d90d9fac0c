"""Every exception class of google-genai, google-auth and botocore (with aiobotocore's own)
is translated into our tree; none escapes, none leaks a secret. Then the translations that
carry meaning: Bedrock's error codes, Gemini's invalid key, each provider's context-length
message, and the simulator's faults over HTTP through each new provider."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

import aiobotocore.response
import botocore.exceptions
import google.auth.exceptions
import pytest
from google.genai import errors as genai_errors

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentPolicyViolation,
    ContextLengthExceeded,
    ProviderError,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from llmrouter.router.config import ModelSpec
from llmrouter.router.providers.anthropic_cloud import AnthropicBedrockProvider
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.bedrock_client import BedrockConverseProvider
from llmrouter.router.providers.botocore_errors import BOTOCORE_ERRORS
from llmrouter.router.providers.errors import translate_sdk_error
from llmrouter.router.providers.genai_errors import GENAI_ERRORS
from llmrouter.router.providers.google_auth_errors import GOOGLE_AUTH_ERRORS
from llmrouter.router.providers.pool import ProviderPool
from tests.router.providers.cloud import CLOUD_MODELS


def _exception_classes(module: ModuleType, package: str) -> set[type[BaseException]]:
    return {
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__.startswith(package)
        and not obj.__name__.startswith("_")
    }


@pytest.mark.parametrize(
    ("modules", "package", "table"),
    [
        ((genai_errors,), "google.genai", GENAI_ERRORS),
        ((google.auth.exceptions,), "google.auth", GOOGLE_AUTH_ERRORS),
        ((botocore.exceptions, aiobotocore.response), "botocore", BOTOCORE_ERRORS),
        ((aiobotocore.response,), "aiobotocore", BOTOCORE_ERRORS),
    ],
    ids=["google-genai", "google-auth", "botocore", "aiobotocore"],
)
def test_every_sdk_exception_class_is_mapped(
    modules: tuple[ModuleType, ...],
    package: str,
    table: dict[type[BaseException], type[ProviderError]],
) -> None:
    """Fails when a release adds an exception class we have not decided about."""
    found = set().union(*(_exception_classes(m, package) for m in modules))
    assert found, f"no exception classes found in {package}: the test looks in the wrong place"
    unmapped = sorted(cls.__qualname__ for cls in found if cls not in table)
    assert not unmapped, f"add these to router/providers/: {unmapped}"


def _client_error(code: str, message: str, status: int) -> botocore.exceptions.ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, "Converse")


@pytest.mark.parametrize(
    ("code", "message", "status", "expected"),
    [
        ("ThrottlingException", "Too many requests", 429, RateLimited),
        ("ServiceQuotaExceededException", "over quota", 400, QuotaExceeded),
        ("AccessDeniedException", "no access", 403, AuthenticationFailed),
        ("ModelNotReadyException", "warming up", 429, ProviderUnavailable),
        (
            "ValidationException",
            "Input is too long for requested model",
            400,
            ContextLengthExceeded,
        ),
        (
            "ValidationException",
            "Output blocked by content filtering policy",
            400,
            ContentPolicyViolation,
        ),
        ("SomeNewException", "new", 503, ProviderUnavailable),  # an unknown code: by status
    ],
)
def test_bedrock_error_codes(
    code: str, message: str, status: int, expected: type[ProviderError]
) -> None:
    got = translate_sdk_error(_client_error(code, message, status), model="m", provider="bedrock")
    assert type(got) is expected
    assert got.status_code == status
    assert code in str(got)


def test_botocore_failures_before_the_request() -> None:
    no_credentials = translate_sdk_error(
        botocore.exceptions.NoCredentialsError(), model="m", provider="bedrock"
    )
    assert isinstance(no_credentials, AuthenticationFailed)
    assert not no_credentials.retryable
    unreachable = translate_sdk_error(
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://bedrock"),
        model="m",
        provider="bedrock",
    )
    assert isinstance(unreachable, ProviderUnavailable)
    assert unreachable.retryable


def _genai_error(status: int, message: str, reason: str | None = None) -> genai_errors.APIError:
    body: dict[str, object] = {"error": {"code": status, "message": message, "status": "X"}}
    if reason:
        body["error"]["details"] = [{"reason": reason}]  # type: ignore[index]
    cls = genai_errors.ClientError if status < 500 else genai_errors.ServerError
    return cls(status, body)


@pytest.mark.parametrize(
    ("status", "message", "reason", "expected"),
    [
        (429, "Resource has been exhausted", None, RateLimited),
        (
            400,
            "API key not valid. Please pass a valid API key.",
            "API_KEY_INVALID",
            AuthenticationFailed,
        ),
        (
            400,
            "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).",
            None,
            ContextLengthExceeded,
        ),
        (400, "Invalid JSON payload", None, BadRequest),
        (403, "Permission denied", None, AuthenticationFailed),
        (503, "The model is overloaded", None, ProviderUnavailable),
    ],
)
def test_gemini_errors(
    status: int, message: str, reason: str | None, expected: type[ProviderError]
) -> None:
    got = translate_sdk_error(_genai_error(status, message, reason), model="m", provider="gemini")
    assert type(got) is expected
    assert got.status_code == status


def test_google_credentials_that_fail_to_refresh() -> None:
    refused = translate_sdk_error(
        google.auth.exceptions.RefreshError("invalid_grant"),  # type: ignore[no-untyped-call]
        model="m",
        provider="vertex-gemini",
    )
    assert isinstance(refused, AuthenticationFailed)
    transient = google.auth.exceptions.RefreshError("server error", retryable=True)  # type: ignore[no-untyped-call]
    assert isinstance(
        translate_sdk_error(transient, model="m", provider="vertex-gemini"), ProviderUnavailable
    )


def test_cloud_credentials_echoed_by_a_provider_are_not_kept() -> None:
    session_token = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN1234567890"
    mismatch = _client_error(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "The Canonical String for this request should have been 'POST /model/x/converse "
        f"host:bedrock x-amz-security-token:{session_token}' The String-to-Sign should have "
        "been 'AWS4-HMAC-SHA256 ...'",
        403,
    )
    got = translate_sdk_error(mismatch, model="m", provider="bedrock")
    assert isinstance(got, AuthenticationFailed)
    assert session_token not in str(got)
    assert "Canonical String" not in str(got)
    google = _genai_error(401, "token ya29.a0AfH6SMBexampleGoogleAccessToken expired")
    assert "ya29.a0AfH6SMB" not in str(translate_sdk_error(google, model="m", provider="g"))
    signed = _client_error(
        "AccessDeniedException", "Signature=0123456789abcdef0123456789abcdef refused", 403
    )
    assert "0123456789abcdef" not in str(translate_sdk_error(signed, model="m", provider="b"))


def test_a_secret_in_an_sdk_message_is_redacted() -> None:
    leaked = _client_error("AccessDeniedException", "key sk-ant-api03-abcdefghijklmnop bad", 403)
    assert "abcdefghijklmnop" not in str(translate_sdk_error(leaked, model="m", provider="b"))
    leaked_genai = _genai_error(400, "bad key AIzaSyA1234567890abcdefghijklmnopqrstuv")
    assert "1234567890abcdef" not in str(
        translate_sdk_error(leaked_genai, model="m", provider="gemini")
    )


@pytest.mark.parametrize("name", sorted(CLOUD_MODELS))
@pytest.mark.parametrize(
    ("fault", "expected"),
    [("429", RateLimited), ("500", ProviderUnavailable), ("context_length", ContextLengthExceeded)],
)
async def test_simulated_faults_arrive_translated(
    sim_url: str, name: str, fault: str, expected: type[ProviderError]
) -> None:
    spec = ModelSpec.model_validate(CLOUD_MODELS[name])
    pool = ProviderPool({name: spec}, simulator_url=sim_url)
    user = f"[[sim:fault={fault}]] hello"
    request = ChatRequest(
        model_id=spec.model_id,
        system=None,
        user=user,
        max_output_tokens=32,
        temperature=0.0,
        timeout_s=10.0,
    )
    try:
        with pytest.raises(ProviderError) as caught:
            await pool.client_for(name).complete(request)
    finally:
        await pool.aclose()
    assert type(caught.value) is expected
    assert caught.value.provider == spec.provider.value


@pytest.mark.parametrize("name", ["bedrock-haiku", "nova-lite"])
async def test_no_aws_credentials_is_an_authentication_failure(
    sim_url: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's chain finds nothing (no environment, no files, no instance role): the
    call fails as `auth_error`, never retried, before anything is sent."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    spec = ModelSpec.model_validate(CLOUD_MODELS[name])
    region = spec.region or ""
    client: AnthropicBedrockProvider | BedrockConverseProvider = (
        AnthropicBedrockProvider(region=region, base_url=sim_url)
        if name == "bedrock-haiku"
        else BedrockConverseProvider(region=region, base_url=sim_url)
    )
    request = ChatRequest(
        model_id=spec.model_id,
        system=None,
        user="hello",
        max_output_tokens=32,
        temperature=0.0,
        timeout_s=10.0,
    )
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.complete(request)
    finally:
        await client.aclose()
    assert not caught.value.retryable
    assert caught.value.provider == spec.provider.value

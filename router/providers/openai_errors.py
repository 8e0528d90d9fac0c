"""How each `openai` SDK exception class maps onto our error tree (see errors.py).

Imported only once the openai SDK is in use: `tests/router/test_provider_errors.py` fails
when an SDK release adds a class that is not named here.
"""

from __future__ import annotations

import openai

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentPolicyViolation,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from llmrouter.router.providers.errors import ErrorTable

__all__ = ["OPENAI_ERRORS"]

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

"""How each `google.genai.errors` class maps onto our error tree (see errors.py).

Imported only once google-genai is in use: `tests/router/providers/test_cloud_errors.py`
fails when a release adds a class that is not named here.
"""

from __future__ import annotations

from google.genai import errors

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
)
from llmrouter.router.providers.errors import ErrorTable

__all__ = ["GENAI_ERRORS", "refine"]

GENAI_ERRORS: ErrorTable = {
    errors.ClientError: ProviderError,  # 4xx: refined by status code (429, 401/403, 400...)
    errors.ServerError: ProviderError,  # 5xx: refined by status code (500, 503, 504)
    errors.APIError: ProviderError,
    errors.UnknownApiResponseError: MalformedResponse,
    # Interactions' multi-hop continuation: progress was made, a later hop failed
    errors.ContinuationInterruptedError: ProviderUnavailable,
    # Automatic function calling only (never used here); mapped so nothing escapes
    errors.UnknownFunctionCallArgumentError: BadRequest,
    errors.UnsupportedFunctionError: BadRequest,
    errors.FunctionInvocationError: BadRequest,
    errors.ExperimentalWarning: ProviderError,
}

#: the reason Google gives a key that is not valid (a 400, not a 401)
_BAD_KEY = "API_KEY_INVALID"


def refine(exc: BaseException) -> type[ProviderError] | None:
    """An invalid API key is an authentication failure, though Gemini answers it 400."""
    if isinstance(exc, errors.APIError):
        text = f"{exc.message or ''} {exc.details or ''}"
        if _BAD_KEY in text or "API key not valid" in text:
            return AuthenticationFailed
    return None

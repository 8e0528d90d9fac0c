"""How each `google.auth.exceptions` class maps onto our error tree (see errors.py): the
Google credentials of Vertex AI models failing to load or to refresh.

Imported only once google-auth is in use: `tests/router/providers/test_cloud_errors.py`
fails when a release adds a class that is not named here.
"""

from __future__ import annotations

from google.auth import exceptions as ge

from llmrouter.core.errors import AuthenticationFailed, ProviderError, ProviderUnavailable
from llmrouter.router.providers.errors import ErrorTable

__all__ = ["GOOGLE_AUTH_ERRORS", "refine"]

GOOGLE_AUTH_ERRORS: ErrorTable = {
    ge.GoogleAuthError: AuthenticationFailed,
    ge.RefreshError: AuthenticationFailed,  # refined: a retryable one is unavailability
    ge.DefaultCredentialsError: AuthenticationFailed,  # no ADC, or a bad file
    ge.OSError: AuthenticationFailed,  # a credentials file that could not be read
    ge.UserAccessTokenError: AuthenticationFailed,
    ge.OAuthError: AuthenticationFailed,
    ge.ReauthFailError: AuthenticationFailed,
    ge.ReauthSamlChallengeFailError: AuthenticationFailed,
    ge.MalformedError: AuthenticationFailed,
    ge.ClientCertError: AuthenticationFailed,
    ge.MutualTLSChannelError: AuthenticationFailed,
    ge.InvalidResource: AuthenticationFailed,
    ge.InvalidOperation: AuthenticationFailed,
    ge.InvalidValue: AuthenticationFailed,
    ge.InvalidType: AuthenticationFailed,
    # the token endpoint could not be reached or answered badly: worth another try
    ge.TransportError: ProviderUnavailable,
    ge.TimeoutError: ProviderUnavailable,
    ge.ResponseError: ProviderUnavailable,
}


def refine(exc: BaseException) -> type[ProviderError] | None:
    """A refresh google-auth itself calls retryable (a 5xx of the token endpoint)."""
    if isinstance(exc, ge.RefreshError) and getattr(exc, "retryable", False):
        return ProviderUnavailable
    return None

"""How each `anthropic` SDK exception class maps onto our error tree (see errors.py).

Imported only once the anthropic SDK is in use: `tests/router/test_provider_errors.py`
fails when an SDK release adds a class that is not named here.
"""

from __future__ import annotations

import anthropic

from llmrouter.core.errors import (
    AuthenticationFailed,
    BadRequest,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
)
from llmrouter.router.providers.errors import ErrorTable

__all__ = ["ANTHROPIC_ERRORS"]

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
    anthropic.StorageNotReadyError: ProviderUnavailable,  # workspace storage still connecting
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
    anthropic.OrganizationURLFetchDisabledError: BadRequest,  # the request uses a disabled source
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

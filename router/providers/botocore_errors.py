"""How each `botocore` (and `aiobotocore`) exception class maps onto our error tree (see
errors.py), and a `ClientError` by the error code Bedrock answered with.

Imported only once botocore is in use: `tests/router/providers/test_cloud_errors.py` fails
when a release adds a class that is not named here.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiobotocore.response
import botocore.exceptions as be

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

__all__ = ["BEDROCK_ERROR_CODES", "BOTOCORE_ERRORS", "refine"]

#: a credential chain that found nothing, or credentials the chain could not load
_CREDENTIALS: ErrorTable = dict.fromkeys(
    (
        be.NoCredentialsError,
        be.PartialCredentialsError,
        be.CredentialRetrievalError,
        be.UnknownCredentialError,
        be.NoAuthTokenError,
        be.TokenRetrievalError,
        be.SSOError,
        be.SSOTokenLoadError,
        be.UnauthorizedSSOTokenError,
        be.RefreshWithMFAUnsupportedError,
        be.MetadataRetrievalError,
        be.ProfileNotFound,
        be.ConfigNotFound,
        be.ConfigParseError,
        be.LoginError,
        be.LoginAuthorizationCodeError,
        be.LoginInsufficientPermissions,
        be.LoginRefreshRequired,
        be.LoginTokenLoadError,
        be.UnknownTokenProviderError,
        be.InvalidIMDSEndpointError,
        be.InvalidIMDSEndpointModeError,
    ),
    AuthenticationFailed,
)
#: a request or a client set-up botocore refused before sending: never retried
_REFUSED: ErrorTable = dict.fromkeys(
    (
        be.ParamValidationError,
        be.ValidationError,
        be.MissingParametersError,
        be.UnknownParameterError,
        be.AliasConflictParameterError,
        be.RangeError,
        be.UnknownKeyError,
        be.UndefinedModelAttributeError,
        be.NoRegionError,
        be.InvalidRegionError,
        be.UnknownRegionError,
        be.UnknownEndpointError,
        be.UnknownServiceError,
        be.ServiceNotInRegionError,
        be.BaseEndpointResolverError,
        be.EndpointResolutionError,
        be.EndpointProviderError,
        be.EndpointVariantError,
        be.UnknownFIPSEndpointError,
        be.UnknownEndpointResolutionBuiltInName,
        be.InvalidEndpointConfigurationError,
        be.InvalidEndpointDiscoveryConfigurationError,
        be.InvalidConfigError,
        be.InvalidHostLabelError,
        be.InvalidDNSNameError,
        be.ApiVersionNotFoundError,
        be.DataNotFoundError,
        be.MissingServiceIdError,
        be.UnknownSignatureVersionError,
        be.UnsupportedSignatureVersionError,
        be.UnknownServiceStyle,
        be.UnsupportedServiceProtocolsError,
        be.InvalidMaxRetryAttemptsError,
        be.InvalidRetryConfigurationError,
        be.InvalidRetryModeError,
        be.InvalidDefaultsMode,
        be.InvalidProxiesConfigError,
        be.InvalidChecksumConfigError,
        be.InfiniteLoopConfigError,
        be.InvalidS3AddressingStyleError,
        be.InvalidS3UsEast1RegionalEndpointConfigError,
        be.InvalidSTSRegionalEndpointsConfigError,
        be.UnsupportedS3AccesspointConfigurationError,
        be.UnsupportedS3ArnError,
        be.UnsupportedS3ConfigurationError,
        be.UnsupportedS3ControlArnError,
        be.UnsupportedS3ControlConfigurationError,
        be.UnsupportedOutpostResourceError,
        be.MissingDependencyException,
        be.MD5UnavailableError,
        be.InvalidExpressionError,
        be.UnseekableStreamError,
    ),
    BadRequest,
)
#: the network between us and Bedrock
_TRANSPORT: ErrorTable = {
    be.ConnectionError: ProviderUnavailable,
    be.EndpointConnectionError: ProviderUnavailable,
    be.ConnectionClosedError: ProviderUnavailable,
    be.ProxyConnectionError: ProviderUnavailable,
    be.SSLError: ProviderUnavailable,
    be.HTTPClientError: ProviderUnavailable,
    be.IncompleteReadError: ProviderUnavailable,
    be.ResponseStreamingError: ProviderUnavailable,
    be.CapacityNotAvailableError: ProviderUnavailable,
    be.ConnectTimeoutError: ProviderUnavailable,
    be.ReadTimeoutError: ProviderTimeout,
    aiobotocore.response.AioReadTimeoutError: ProviderTimeout,
    be.ChecksumError: MalformedResponse,
    be.FlexibleChecksumError: MalformedResponse,
    be.AwsChunkedWrapperError: MalformedResponse,
}
#: raised by operations Converse never uses; mapped so nothing can escape untranslated
_UNUSED: ErrorTable = dict.fromkeys(
    (
        be.OperationNotPageableError,
        be.PaginationError,
        be.WaiterError,
        be.WaiterConfigError,
        be.StubAssertionError,
        be.StubResponseError,
        be.UnStubbedResponseError,
        be.UnknownClientMethodError,
        be.ImminentRemovalWarning,
        be.UnsupportedTLSVersionWarning,
    ),
    ProviderError,
)

BOTOCORE_ERRORS: ErrorTable = {
    **_CREDENTIALS,
    **_REFUSED,
    **_TRANSPORT,
    **_UNUSED,
    be.ClientError: ProviderError,  # refined by its error code, else its status
    be.EventStreamError: ProviderUnavailable,
    be.BotoCoreError: ProviderError,
}

#: the error codes of Bedrock's runtime (and of SigV4 authentication)
BEDROCK_ERROR_CODES: Mapping[str, type[ProviderError]] = {
    "ThrottlingException": RateLimited,
    "TooManyRequestsException": RateLimited,
    "ServiceQuotaExceededException": QuotaExceeded,
    "AccessDeniedException": AuthenticationFailed,
    "UnrecognizedClientException": AuthenticationFailed,
    "InvalidSignatureException": AuthenticationFailed,
    "ExpiredTokenException": AuthenticationFailed,
    "MissingAuthenticationTokenException": AuthenticationFailed,
    "IncompleteSignatureException": AuthenticationFailed,
    "ValidationException": BadRequest,  # refined by its message (context, content)
    "ResourceNotFoundException": BadRequest,
    "ModelTimeoutException": ProviderTimeout,
    "ModelNotReadyException": ProviderUnavailable,
    "ModelErrorException": ProviderUnavailable,
    "ModelStreamErrorException": ProviderUnavailable,
    "ServiceUnavailableException": ProviderUnavailable,
    "InternalServerException": ProviderUnavailable,
}


def refine(exc: BaseException) -> type[ProviderError] | None:
    """A ClientError's class by the error code Bedrock answered with (None: by status)."""
    if not isinstance(exc, be.ClientError):
        return None
    code = exc.response.get("Error", {}).get("Code")
    return BEDROCK_ERROR_CODES.get(code) if isinstance(code, str) else None

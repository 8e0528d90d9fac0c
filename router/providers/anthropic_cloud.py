"""Anthropic models on Amazon Bedrock and on Google Vertex AI, through the anthropic SDK's
own `AsyncAnthropicBedrock` and `AsyncAnthropicVertex` clients.

Bodies, answers, usage and refusals are the Anthropic API's, so everything but the client
is `AnthropicProvider`'s: the platform client moves `model` into the URL
(`/model/{id}/invoke` on Bedrock, `.../publishers/anthropic/models/{id}:rawPredict` on
Vertex AI) and authenticates. Every call goes through the SDK (`through_sdk`): Bedrock's
SigV4 signature covers each body and instant, and Vertex AI's access token expires.

Credentials come from the standard chains: Bedrock from botocore's (environment, shared
files and AWS_PROFILE, web identity, container and instance roles) or a Bedrock API key in
AWS_BEARER_TOKEN_BEDROCK; Vertex AI from a model's `credentials_file`, else Application
Default Credentials (google_credentials.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from llmrouter.core.errors import AuthenticationFailed
from llmrouter.router.providers.anthropic_client import AnthropicProvider
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.call import SdkProvider
from llmrouter.router.providers.google_credentials import google_credentials

__all__ = ["AnthropicBedrockProvider", "AnthropicVertexProvider"]

#: the path `messages.create` posts to; the platform clients rewrite it
_PATH = "/v1/messages"


class AnthropicBedrockProvider(AnthropicProvider):
    def __init__(
        self, *, region: str, base_url: str | None, credentials: tuple[str, str] | None = None
    ) -> None:
        """`credentials`: a static (access key id, secret) pair, for the simulator only;
        None: botocore's chain (or a Bedrock API key in AWS_BEARER_TOKEN_BEDROCK)."""
        import anthropic
        import botocore.exceptions

        access_key, secret_key = credentials if credentials is not None else (None, None)

        def make_client(http: Any) -> Any:
            return anthropic.AsyncAnthropicBedrock(
                aws_region=region,
                aws_access_key=access_key,
                aws_secret_key=secret_key,
                base_url=base_url,
                max_retries=0,
                http_client=http,
            )

        # Not AnthropicProvider's __init__: the client is Bedrock's own.
        SdkProvider.__init__(
            self,
            "bedrock-anthropic",
            anthropic,
            make_client,
            _PATH,
            anthropic.AnthropicError,
            through_sdk=True,
            # signing reads the credential chain: a missing or bad profile is botocore's
            extra_errors=(botocore.exceptions.BotoCoreError,),
        )

    async def complete(self, request: ChatRequest) -> Completion:
        async with _credentials_found(request, self.provider, "AWS credentials"):
            return await super().complete(request)


class AnthropicVertexProvider(AnthropicProvider):
    def __init__(
        self,
        *,
        region: str,
        project: str,
        base_url: str | None,
        credentials_file: Path | None,
        simulated: bool,
    ) -> None:
        import anthropic
        import google.auth.exceptions

        credentials = google_credentials(credentials_file, simulated=simulated)

        def make_client(http: Any) -> Any:
            return anthropic.AsyncAnthropicVertex(
                region=region,
                project_id=project,
                credentials=credentials,
                base_url=base_url,
                max_retries=0,
                http_client=http,
            )

        SdkProvider.__init__(
            self,
            "vertex-anthropic",
            anthropic,
            make_client,
            _PATH,
            anthropic.AnthropicError,
            through_sdk=True,
            # refreshing the token: google-auth's errors
            extra_errors=(google.auth.exceptions.GoogleAuthError,),
        )

    async def complete(self, request: ChatRequest) -> Completion:
        async with _credentials_found(request, self.provider, "Could not resolve API token"):
            return await super().complete(request)


@contextlib.asynccontextmanager
async def _credentials_found(
    request: ChatRequest, provider: str, sdk_says: str
) -> AsyncIterator[None]:
    """The SDK's RuntimeError for a credential chain that found nothing (its message names
    no secret) as our AuthenticationFailed; any other RuntimeError is a bug, left alone."""
    try:
        yield
    except RuntimeError as exc:
        if sdk_says not in str(exc):
            raise
        raise AuthenticationFailed(
            f"no credentials found: {exc}", model=request.model_id, provider=provider
        ) from None

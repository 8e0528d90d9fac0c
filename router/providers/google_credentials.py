"""Google credentials for Vertex AI models (Gemini and Anthropic on Vertex).

A model's `credentials_file` (a mounted service-account, authorized-user or external-account
JSON file) is loaded with google-auth's loader for its type; without one the SDK resolves Application Default Credentials
itself (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, the metadata server of
GKE, Cloud Run or GCE). Against the simulator without a file, a static token stands in.
Tokens are refreshed by the SDKs; none is ever logged or put in an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from llmrouter.core.errors import ConfigError

__all__ = ["CLOUD_PLATFORM_SCOPE", "SIMULATOR_TOKEN", "google_credentials"]

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: the bearer token sent to the simulator when no credentials file is given
SIMULATOR_TOKEN = "sim-google-token"


def google_credentials(credentials_file: Path | None, *, simulated: bool) -> Any | None:
    """google-auth credentials from the file, a static token for the simulator, or None
    (the SDK's own Application Default Credentials)."""
    if credentials_file is not None:
        return _from_file(credentials_file)
    if simulated:
        import google.oauth2.credentials

        return google.oauth2.credentials.Credentials(token=SIMULATOR_TOKEN)  # type: ignore[no-untyped-call]
    return None


def _from_file(path: Path) -> Any:
    """A service-account, authorized-user or external-account (workload identity
    federation) file, each through its own loader; errors name the file, never its content."""
    import google.auth.exceptions

    try:
        info = orjson.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"credentials_file {path}: not a readable JSON file ({exc})") from None
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        if kind == "service_account":
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[CLOUD_PLATFORM_SCOPE]
            )
        if kind == "authorized_user":
            import google.oauth2.credentials

            return google.oauth2.credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=[CLOUD_PLATFORM_SCOPE]
            )
        if kind == "external_account":
            from google.auth import identity_pool

            return identity_pool.Credentials.from_info(  # type: ignore[no-untyped-call]
                info, scopes=[CLOUD_PLATFORM_SCOPE]
            )
    except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
        raise ConfigError(
            f"credentials_file {path}: not valid {kind} credentials ({type(exc).__name__})"
        ) from None
    raise ConfigError(
        f"credentials_file {path}: type {kind!r} is not one of service_account, "
        "authorized_user, external_account"
    )

"""The shared state store: one Redis (redis-py's asyncio client) for every replica.

Every command goes through `StateStore.run` or a `StoreScript`, where redis-py's
exceptions are translated into our error tree (`_TRANSLATIONS`, one entry per redis-py
exception class, checked by a test). The URL's password never reaches a log line or an
exception: `redacted_url` is what gets printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import structlog

from llmrouter.core.errors import (
    ConfigError,
    LLMRouterError,
    StateStoreError,
    StateStoreUnavailable,
)

__all__ = [
    "PASSWORD_FILE_ENV",
    "URL_ENV",
    "StateStore",
    "StoreScript",
    "redacted_url",
    "resolve_url",
    "translate",
]

log = structlog.get_logger("llmrouter.state")

URL_ENV = "LLMROUTER_REDIS_URL"
PASSWORD_FILE_ENV = "LLMROUTER_REDIS_PASSWORD_FILE"
T = TypeVar("T")

try:  # redis is an optional extra; without it there is no store and nothing to translate
    from redis import exceptions as _rx

    _TRANSLATIONS: dict[type[BaseException], type[StateStoreError]] = {
        # cannot reach, cannot log in, or the server is not serving yet: unavailable
        _rx.ConnectionError: StateStoreUnavailable,
        _rx.TimeoutError: StateStoreUnavailable,
        _rx.AuthenticationError: StateStoreUnavailable,
        _rx.AuthenticationWrongNumberOfArgsError: StateStoreUnavailable,
        _rx.AuthorizationError: StateStoreUnavailable,
        _rx.ExternalAuthProviderError: StateStoreUnavailable,
        _rx.BusyLoadingError: StateStoreUnavailable,
        _rx.MaxConnectionsError: StateStoreUnavailable,
        _rx.ReadOnlyError: StateStoreUnavailable,
        _rx.OutOfMemoryError: StateStoreUnavailable,
        _rx.TryAgainError: StateStoreUnavailable,
        _rx.ClusterError: StateStoreUnavailable,
        _rx.ClusterDownError: StateStoreUnavailable,
        _rx.MasterDownError: StateStoreUnavailable,
        _rx.ChildDeadlockedError: StateStoreUnavailable,
        _rx.RedisClusterException: StateStoreUnavailable,
        _rx.SlotNotCoveredError: StateStoreUnavailable,
        _rx.AskError: StateStoreUnavailable,
        _rx.MovedError: StateStoreUnavailable,
        _rx.ClusterCrossSlotError: StateStoreError,
        _rx.CrossSlotTransactionError: StateStoreError,
        _rx.InvalidPipelineStack: StateStoreError,
        _rx.InvalidResponse: StateStoreUnavailable,
        # the server understood and refused: a bug of ours or a misconfigured server
        _rx.RedisError: StateStoreError,
        _rx.ResponseError: StateStoreError,
        _rx.DataError: StateStoreError,
        _rx.ExecAbortError: StateStoreError,
        _rx.NoScriptError: StateStoreError,
        _rx.NoPermissionError: StateStoreError,
        _rx.ModuleError: StateStoreError,
        _rx.NoSuchFieldsetError: StateStoreError,
        _rx.PubSubError: StateStoreError,
        _rx.WatchError: StateStoreError,
        _rx.LockError: StateStoreError,
        _rx.LockNotOwnedError: StateStoreError,
        _rx.IncorrectPolicyType: StateStoreError,
    }
except ImportError:  # pragma: no cover - the redis extra is not installed
    _TRANSLATIONS = {}


def translate(exc: BaseException, url: str) -> LLMRouterError:
    """Our error for a redis-py exception (its most specific mapped class wins)."""
    for cls in type(exc).__mro__:
        target = _TRANSLATIONS.get(cls)
        if target is not None:
            # redis-py messages name host and port, never the password; keep them short.
            return target(f"state store {url}: {type(exc).__name__}: {str(exc)[:200]}")
    return StateStoreError(f"state store {url}: {type(exc).__name__}")


def redacted_url(url: str) -> str:
    """The URL with any password replaced by `***`: the only form that is ever logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_url(config_url: str | None) -> str | None:
    """The store's URL: the config's `defaults.state.redis_url`, else $LLMROUTER_REDIS_URL."""
    url = config_url or os.environ.get(URL_ENV) or None
    if url is None:
        return None
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        # The message leaves the URL out: it may carry a password.
        raise ConfigError(
            "expected redis[s]://[user:password@]host[:port][/db]", key="defaults.state.redis_url"
        )
    return url


class StoreScript:
    """A Lua script registered once (EVALSHA, loaded again when the server lost it)."""

    def __init__(self, store: StateStore, lua: str) -> None:
        self._store = store
        self._script = store.client.register_script(lua)

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._store.run(lambda _client: self._script(keys=list(keys), args=list(args)))


class StateStore:
    """One connection pool to the store, shared by the limiter, breaker, budget and dedupe.

    `prefix` namespaces every key (`key("budget", day, task)`), so deployments and tests
    sharing one Redis never see each other's state.
    """

    def __init__(
        self, client: Any, *, url: str, prefix: str = "llmrouter", retry_after_s: float = 5.0
    ) -> None:
        self.client = client
        self.url = redacted_url(url)
        self.prefix = prefix
        self.retry_after_s = retry_after_s
        self._down_until = 0.0
        self._up = True

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        password_file: str | None = None,
        prefix: str = "llmrouter",
        timeout_s: float = 5.0,
        max_connections: int = 128,
    ) -> StateStore:
        """A store for `url`; TLS with `rediss://`, the password from the URL or from
        `password_file` (default $LLMROUTER_REDIS_PASSWORD_FILE, e.g. a mounted Secret)."""
        try:
            from redis import asyncio as aioredis
        except ImportError as exc:
            raise ConfigError(
                "the shared state store needs redis: pip install 'llmrouter[redis]'",
                key="defaults.state.redis_url",
            ) from exc
        kwargs: dict[str, Any] = {}
        password_file = password_file or os.environ.get(PASSWORD_FILE_ENV)
        if password_file:
            try:
                kwargs["password"] = Path(password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the store's password file {password_file}: {exc.strerror}",
                    key=PASSWORD_FILE_ENV,
                ) from None
        # A blocking pool: a burst of concurrent calls waits (up to timeout_s) for one of
        # max_connections instead of failing with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
            **kwargs,
        )
        client = aioredis.Redis(connection_pool=pool)
        store = cls(client, url=url, prefix=prefix)
        log.info("state store configured", url=store.url)
        return store

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, *(str(p) for p in parts)])

    def script(self, lua: str) -> StoreScript:
        return StoreScript(self, lua)

    async def run(self, op: Callable[[Any], Awaitable[T]]) -> T:
        """`await op(client)`, with redis-py's exceptions translated at this boundary.

        After the store failed to answer, calls fail at once for `retry_after_s`, so
        callers fall back to per-process state without waiting out a timeout each time."""
        now = time.monotonic()
        if now < self._down_until:
            raise StateStoreUnavailable(f"state store {self.url}: unavailable, retrying soon")
        try:
            result = await op(self.client)
        except LLMRouterError:
            raise
        except Exception as exc:
            if not any(cls in _TRANSLATIONS for cls in type(exc).__mro__):
                raise
            error = translate(exc, self.url)
            if isinstance(error, StateStoreUnavailable):
                if self._up:
                    log.warning("state store unavailable", url=self.url, error=str(error))
                self._up = False
                self._down_until = time.monotonic() + self.retry_after_s
            raise error from None
        if not self._up:
            log.info("state store reachable again", url=self.url)
            self._up = True
        return result

    async def ping(self) -> None:
        await self.run(lambda client: client.ping())

    async def aclose(self) -> None:
        try:
            await self.client.aclose(close_connection_pool=True)
        except Exception as exc:
            log.warning("state store close failed", url=self.url, error=type(exc).__name__)

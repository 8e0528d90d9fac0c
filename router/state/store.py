"""The shared state store: one Redis or one Redis Cluster (redis-py's asyncio clients) for
every replica.

A URL with `?cluster=true` names a cluster (any one node, or a managed service's
cluster-mode endpoint): the cluster client finds the others. Keys used together — by one
script or one multi-key command — share a hash tag (`key`), so a cluster keeps each such
group in one slot: the keys of one model, of one budget day, of one request id.

Every command goes through `StateStore.run` or a `StoreScript`, where redis-py's
exceptions are translated into our error tree (`translations()`, one entry per redis-py
exception class, checked by a test). The URL's password never reaches a log line or an
exception: `redacted_url` is what gets printed.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import structlog
from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from llmrouter.core.errors import (
    ConfigError,
    LLMRouterError,
    StateStoreError,
    StateStoreUnavailable,
)
from llmrouter.core.settings import EnvSettings

__all__ = [
    "CLUSTER_PARAM",
    "CONFIG_KEY",
    "StateStore",
    "StoreScript",
    "StoreSettings",
    "cluster_option",
    "redacted_url",
    "translate",
    "translations",
]

log = structlog.get_logger("llmrouter.state")

#: where the routing config names the store; it wins over $LLMROUTER_REDIS_URL
CONFIG_KEY = "defaults.state.redis_url"
#: the URL's query parameter that names a Redis Cluster (`?cluster=true`)
CLUSTER_PARAM = "cluster"
T = TypeVar("T")

#: Kinds of keys whose groups are used together: `key(kind, name, ...)` makes `name` the
#: hash tag, so one model's limiter (`limit`) or breaker (`breaker`) keys, one UTC day's
#: budget counters and rebuild marker (`budget`), and one request id's claim (`dedupe`)
#: each live in one cluster slot. Every other key has no tag.
_GROUPED_KINDS = frozenset({"limit", "breaker", "budget", "dedupe"})
# Braces in a name would move or empty its hash tag: escaped, one-to-one.
_TAG_ESCAPES = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D"})
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


@functools.cache
def translations() -> dict[type[BaseException], type[StateStoreError]]:
    """Our error for each redis-py exception class. redis-py is imported here, on the first
    store error, not with this module: a router without a store never loads it (9 MiB)."""
    try:  # redis is an optional extra; without it there is no store and nothing to translate
        from redis import exceptions as _rx
    except ImportError:  # pragma: no cover - the redis extra is not installed
        return {}
    return {
        # cannot reach, cannot log in, or the server is not serving yet: unavailable
        _rx.ConnectionError: StateStoreUnavailable,
        _rx.TimeoutError: StateStoreUnavailable,
        _rx.AuthenticationError: StateStoreUnavailable,
        _rx.AuthenticationWrongNumberOfArgsError: StateStoreUnavailable,
        _rx.AuthorizationError: StateStoreUnavailable,
        _rx.ExternalAuthProviderError: StateStoreUnavailable,
        _rx.BusyLoadingError: StateStoreUnavailable,
        _rx.MaxConnectionsError: StateStoreUnavailable,
        _rx.MaxClientsReachedError: StateStoreUnavailable,
        _rx.RedisClusterUnreachableError: StateStoreUnavailable,
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


def translate(exc: BaseException, url: str) -> LLMRouterError:
    """Our error for a redis-py exception (its most specific mapped class wins)."""
    for cls in type(exc).__mro__:
        target = translations().get(cls)
        if target is not None:
            # redis-py messages name host and port, never the password; keep them short.
            return target(f"state store {url}: {type(exc).__name__}: {str(exc)[:200]}")
    return StateStoreError(f"state store {url}: {type(exc).__name__}")


def redacted_url(url: str) -> str:
    """The URL with any password replaced by `***`, in its user information or in its
    query (`?password=`, which redis-py also reads): the only form that is ever logged."""
    try:
        parts = urlsplit(url)
        password = parts.password
        host, port = parts.hostname or "", parts.port
    except ValueError:  # not a URL we can take apart: show none of it
        return "(unparsable URL)"
    netloc = parts.netloc
    if password is not None:
        host = f"[{host}]" if ":" in host else host
        netloc = f"{parts.username or ''}:***@{host}" + (f":{port}" if port else "")
    query = "&".join(
        f"{name}=***" if _secret_param(name) else pair
        for pair in (parts.query.split("&") if parts.query else [])
        for name in [unquote(pair.partition("=")[0])]
    )
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def _secret_param(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_PARAM_WORDS)


#: query parameters whose value is a secret (`password`, `sasl_password`, `token`, ...)
_SECRET_PARAM_WORDS = ("password", "passwd", "secret", "token", "key", "auth")


def cluster_option(url: str, *, key: str = CONFIG_KEY) -> tuple[str, bool]:
    """`url` without its `cluster` query parameter, and whether it names a Redis Cluster.
    A bad option is a ConfigError naming `key`, where the URL was given."""
    parts = urlsplit(url)
    kept: list[str] = []
    cluster = False
    for pair in parts.query.split("&") if parts.query else []:
        name, _, value = pair.partition("=")
        if unquote(name) != CLUSTER_PARAM:
            kept.append(pair)
            continue
        flag = unquote(value).strip().lower()
        if flag not in _TRUE | _FALSE:
            raise ConfigError(f"expected ?{CLUSTER_PARAM}=true or false, got {flag!r}", key=key)
        cluster = flag in _TRUE
    if cluster and parts.scheme == "unix":
        raise ConfigError("a Redis Cluster is reached over TCP: redis[s]://host:port", key=key)
    if cluster and parts.path.strip("/") not in ("", "0"):
        raise ConfigError("a Redis Cluster has only database 0", key=key)
    return urlunsplit(parts._replace(query="&".join(kept))), cluster


def check_url(url: str, *, key: str = CONFIG_KEY) -> None:
    """A ConfigError naming `key` unless `url` is a store's URL; the message leaves the URL
    out: it may carry a password."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            "expected redis[s]://[user:password@]host[:port][/db][?cluster=true]", key=key
        )
    cluster_option(url, key=key)


class StoreSettings(EnvSettings):
    """Where the store is, from the routing config or the environment:

    | variable                         | meaning                                           |
    | -------------------------------- | ------------------------------------------------- |
    | LLMROUTER_REDIS_URL              | the store, when the config names none             |
    | LLMROUTER_REDIS_PASSWORD(_FILE)  | its password, or a file holding it (a mounted     |
    |                                  | Secret; wins), when the URL carries none          |

    Neither the password nor the URL's shows in a repr, a log line or an error.
    """

    model_config = SettingsConfigDict(env_prefix="LLMROUTER_REDIS_")
    secret_files: ClassVar[Mapping[str, str]] = {"password_file": "password"}

    #: redis[s]://[user:password@]host[:port][/db][?cluster=true], or unix://path
    url: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None

    @classmethod
    def from_env(cls, config_url: str | None = None) -> StoreSettings:
        """The config's `defaults.state.redis_url` when set, else $LLMROUTER_REDIS_URL."""
        if config_url:
            check_url(config_url, key=CONFIG_KEY)
        return cls.from_environment(url=config_url or None)

    @field_validator("url")
    @classmethod
    def _store_url(cls, url: str | None) -> str | None:
        if url is not None:
            check_url(url, key=cls.env_name("url"))
        return url

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redacted_url(value) if name == "url" and value else value


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
    sharing one Redis never see each other's state. `cluster`: the client is a
    `RedisCluster`, so a script or multi-key command must keep to one slot, and at most
    `max_in_flight` commands are sent at once (its pools do not queue; a burst waits here
    up to `wait_s`, as the single client's blocking pool does).
    """

    def __init__(
        self,
        client: Any,
        *,
        url: str,
        prefix: str = "llmrouter",
        retry_after_s: float = 5.0,
        cluster: bool = False,
        max_in_flight: int = 128,
        wait_s: float = 5.0,
    ) -> None:
        self.client = client
        self.url = redacted_url(url)
        self.prefix = prefix.translate(_TAG_ESCAPES)
        self.retry_after_s = retry_after_s
        self.cluster = cluster
        self._in_flight = asyncio.Semaphore(max_in_flight) if cluster else None
        self._max_in_flight = max_in_flight
        self._initialized = not cluster
        self._initializing = asyncio.Lock()
        self._closed = False
        self._wait_s = wait_s
        self._down_until = 0.0
        self._up = True

    @classmethod
    def connect(
        cls,
        settings: StoreSettings | str,
        *,
        prefix: str = "llmrouter",
        timeout_s: float = 5.0,
        max_connections: int = 128,
    ) -> StateStore:
        """A store for `settings` (or a URL, with the password file and password of the
        environment); TLS with `rediss://`, the password from the URL or from the
        settings (e.g. a mounted Secret); a Redis Cluster with `?cluster=true` (any node's
        address: the others are found)."""
        if isinstance(settings, str):
            settings = StoreSettings.from_environment(url=settings)
        url = settings.url
        if url is None:
            raise ConfigError("no store named", key=CONFIG_KEY)
        try:
            from redis import asyncio as aioredis
        except ImportError as exc:
            raise ConfigError(
                "the shared state store needs redis: pip install 'llmrouter[redis]'",
                key=CONFIG_KEY,
            ) from exc
        kwargs: dict[str, Any] = {}
        if settings.password is not None:
            kwargs["password"] = settings.password.get_secret_value()
        plain_url, cluster = cluster_option(url)
        if cluster:
            from redis.asyncio.cluster import RedisCluster

            # Connections are opened per node on first use; at most max_connections per
            # node, and run() never sends more commands than that at once.
            client: Any = RedisCluster.from_url(
                plain_url,
                max_connections=max_connections,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                health_check_interval=30,
                **kwargs,
            )
        else:
            # A blocking pool: a burst of concurrent calls waits (up to timeout_s) for one
            # of max_connections instead of failing with "too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(
                plain_url,
                max_connections=max_connections,
                timeout=timeout_s,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                health_check_interval=30,
                **kwargs,
            )
            client = aioredis.Redis(connection_pool=pool)
        store = cls(
            client,
            url=url,
            prefix=prefix,
            cluster=cluster,
            max_in_flight=max_connections,
            wait_s=timeout_s,
        )
        log.info("state store configured", url=store.url, cluster=cluster)
        return store

    def key(self, *parts: object) -> str:
        """`prefix:part:...`; for a grouped kind (`_GROUPED_KINDS`) the name after the kind
        is the hash tag: `key("limit", model, "calls")` is `prefix:limit:{model}:calls`.
        A name of `*` stays a bare glob, so `key("budget", "*")` matches every day."""
        names = [str(p) for p in parts]
        if len(names) >= 2 and names[0] in _GROUPED_KINDS and names[1] != "*":
            names[1] = "{" + names[1].translate(_TAG_ESCAPES) + "}"
        return ":".join([self.prefix, *names])

    def same_slot_batches(self, keys: Sequence[str], size: int) -> list[list[str]]:
        """`keys` in batches of at most `size` that one script may take together: on a
        cluster, the keys of one hash slot; on one Redis, any."""
        groups: list[list[str]] = [list(keys)]
        if self.cluster:
            from redis.crc import key_slot

            by_slot: dict[int, list[str]] = {}
            for key in keys:
                by_slot.setdefault(key_slot(key.encode()), []).append(key)
            groups = list(by_slot.values())
        return [group[i : i + size] for group in groups for i in range(0, len(group), size)]

    def script(self, lua: str) -> StoreScript:
        return StoreScript(self, lua)

    async def run(self, op: Callable[[Any], Awaitable[T]]) -> T:
        """`await op(client)`, with redis-py's exceptions translated at this boundary.

        After the store failed to answer, calls fail at once for `retry_after_s`, so
        callers fall back to per-process state without waiting out a timeout each time."""
        if self._closed:  # a call after aclose (a finalizer, a late task) must not reconnect
            raise StateStoreUnavailable(f"state store {self.url}: closed")
        now = time.monotonic()
        if now < self._down_until:
            raise StateStoreUnavailable(f"state store {self.url}: unavailable, retrying soon")
        try:
            if self._in_flight is None:
                result = await op(self.client)
            else:
                result = await self._run_bounded(self._in_flight, op)
        except LLMRouterError as ours:
            if isinstance(ours, StateStoreUnavailable):
                self._mark_down(ours)
            raise
        except Exception as exc:
            if not any(cls in translations() for cls in type(exc).__mro__):
                raise
            error = translate(exc, self.url)
            if isinstance(error, StateStoreUnavailable):
                self._mark_down(error)
            raise error from None
        if not self._up:
            log.info("state store reachable again", url=self.url)
            self._up = True
        return result

    async def _run_bounded(
        self, in_flight: asyncio.Semaphore, op: Callable[[Any], Awaitable[T]]
    ) -> T:
        try:
            async with asyncio.timeout(self._wait_s):
                await in_flight.acquire()
        except TimeoutError:
            raise StateStoreUnavailable(
                f"state store {self.url}: no connection free within {self._wait_s:g} s"
            ) from None
        try:
            if not self._initialized:
                # The cluster's slot map is read once before the first commands: sent
                # concurrently while the client still discovers it, some found their new
                # connections closed under them.
                async with self._initializing:
                    if not self._initialized:
                        await self.client.initialize()
                        self._initialized = True
            return await op(self.client)
        finally:
            in_flight.release()

    def _mark_down(self, error: StateStoreUnavailable) -> None:
        if self._up:
            log.warning("state store unavailable", url=self.url, error=str(error))
        self._up = False
        self._down_until = time.monotonic() + self.retry_after_s

    async def ping(self) -> None:
        await self.run(lambda client: client.ping())

    async def aclose(self) -> None:
        self._closed = True
        try:
            if self._in_flight is not None:
                # Commands already sent finish first: one closed under them would make
                # the cluster client reconnect, with nobody left to close those.
                try:
                    async with asyncio.timeout(self._wait_s):
                        for _ in range(self._max_in_flight):
                            await self._in_flight.acquire()
                except TimeoutError:
                    log.warning("state store closed with commands still in flight", url=self.url)
                await self.client.aclose()
            else:
                await self.client.aclose(close_connection_pool=True)
        except Exception as exc:
            log.warning("state store close failed", url=self.url, error=type(exc).__name__)

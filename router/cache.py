"""Exact-match response cache over aiocache: in memory (per process) or Redis (shared).

A cache is an optimisation, never a dependency: any backend failure (Redis down, a slow
call, an unreadable entry) is logged as a warning and treated as a miss or a skipped
write, so it can never fail a request.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import orjson
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from llmrouter.core.errors import ConfigError
from llmrouter.router.config import CacheSettings

if TYPE_CHECKING:
    from aiocache.base import BaseCache

__all__ = ["CachedAnswer", "ResponseCache", "cache_key", "normalise"]

log = structlog.get_logger(__name__)

# Bumped whenever CachedAnswer or the key recipe changes, so old entries are never misread.
_KEY_PREFIX = "llmrouter:answer:v1:"
# A lookup is worth a few milliseconds, not aiocache's default 5 s when Redis hangs.
_OP_TIMEOUT_S = 0.5


class CachedAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    model_version: str
    input_tokens: int
    output_tokens: int
    confidence: float | None = None


def normalise(text: str) -> str:
    """NFKC, casefold, collapse whitespace, strip: the variation that does not change meaning."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def cache_key(
    task: str, model: str, prompt_version: str, text: str, context: Mapping[str, Any]
) -> str:
    """A sha256 key; it never contains the user's text, so it is safe to log and to share."""
    # One JSON array with sorted keys: canonical, and no separator a value could forge.
    material = orjson.dumps(
        [task, model, prompt_version, normalise(text), dict(context)],
        option=orjson.OPT_SORT_KEYS,
    )
    return _KEY_PREFIX + hashlib.sha256(material).hexdigest()


class ResponseCache:
    """Async get/set of CachedAnswer by key; see `cache_key`.

    `backend` is the aiocache backend, or a function that makes it on first use: a router
    whose tasks never look anything up never loads aiocache, nor the Redis client it
    imports with it (9 MiB of a router's memory)."""

    def __init__(self, backend: BaseCache | Callable[[], BaseCache]) -> None:
        self._backend_or_maker = backend

    @property
    def _backend(self) -> BaseCache:
        backend = self._backend_or_maker
        if callable(backend):
            backend = self._backend_or_maker = backend()
        return backend

    @classmethod
    def from_settings(cls, settings: CacheSettings) -> ResponseCache:
        """The backend `settings.backend` names. Whether to use it per task (`enabled`,
        `cache_sampled`, `ttl_s`) is the caller's decision."""
        if settings.backend == "memory":
            return cls(_memory_backend)
        if not settings.redis_url:
            raise ConfigError("backend 'redis' needs redis_url", key="cache.redis_url")
        return cls(_redis_backend(settings.redis_url))

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self._backend.get(key)
        except Exception as exc:
            log.warning("cache_get_failed", key=key, error=repr(exc))
            return None
        if raw is None:
            return None
        try:
            return CachedAnswer.model_validate_json(raw)
        except ValidationError:
            log.warning("cache_entry_unreadable", key=key)
            return None

    async def set(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        try:
            await self._backend.set(key, answer.model_dump_json(), ttl=ttl_s)
        except Exception as exc:
            log.warning("cache_set_failed", key=key, error=repr(exc))

    async def close(self) -> None:
        if callable(self._backend_or_maker):
            return  # never made: nothing to close
        try:
            await self._backend.close()
        except Exception as exc:
            log.warning("cache_close_failed", error=repr(exc))


def _memory_backend() -> BaseCache:
    from aiocache import SimpleMemoryCache
    from aiocache.serializers import StringSerializer

    # No per-call timeout: a dict cannot hang, and wait_for costs a task per call.
    return SimpleMemoryCache(serializer=StringSerializer(), timeout=None)


def _redis_backend(redis_url: str) -> BaseCache:
    url = urlparse(redis_url)
    db = url.path.strip("/") or "0"
    try:
        port = url.port or 6379
    except ValueError:  # a port that is not a number
        port = 0
    if url.scheme not in ("redis", "rediss") or not db.isdigit() or not port:
        # The message leaves the URL out: it may carry a password.
        raise ConfigError("expected redis[s]://[:password@]host[:port][/db]", key="cache.redis_url")
    # redis is an optional extra: import it only when a config asks for it.
    try:
        from aiocache.backends.redis import RedisCache
        from aiocache.serializers import StringSerializer
    except ImportError as exc:
        raise ConfigError(
            "cache backend 'redis' needs the redis extra: pip install 'llmrouter[redis]'",
            key="cache.backend",
        ) from exc
    return RedisCache(
        serializer=StringSerializer(),
        timeout=_OP_TIMEOUT_S,
        endpoint=url.hostname or "127.0.0.1",
        port=port,
        db=int(db),
        password=url.password,
        ssl=url.scheme == "rediss",
    )

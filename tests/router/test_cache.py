from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from aiocache import SimpleMemoryCache
from aiocache.serializers import StringSerializer
from structlog.testing import capture_logs

from llmrouter.core.errors import ConfigError
from llmrouter.router.cache import CachedAnswer, ResponseCache, cache_key
from llmrouter.router.config import CacheSettings

ANSWER = CachedAnswer(
    text="Click 'Forgot password'.",
    model_version="gpt-4o-mini-2024-07-18",
    input_tokens=12,
    output_tokens=7,
    confidence=0.9,
)


def key(text: str = "hello", **context: Any) -> str:
    return cache_key("support", "gpt-4o-mini", "v3", text, context)


@pytest.fixture
def backend() -> SimpleMemoryCache:
    return SimpleMemoryCache(serializer=StringSerializer())


async def test_miss_then_hit() -> None:
    cache = ResponseCache.from_settings(CacheSettings())
    assert await cache.get(key()) is None
    await cache.set(key(), ANSWER, ttl_s=60)
    assert await cache.get(key()) == ANSWER
    await cache.close()


def test_normalised_inputs_share_a_key() -> None:
    assert key("  How do I RESET   my password? ") == key("how do i reset my password?")
    assert key("\uff48\uff4f\uff57\u00a0do\ti") == key(
        "how do i"
    )  # NFKC full-width letters, nbsp, tab


def test_key_is_a_hash_without_user_text() -> None:
    k = key("my secret account number 12345")
    digest = k.rsplit(":", 1)[1]
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert "secret" not in k
    assert "12345" not in k


def test_everything_but_the_wording_changes_the_key() -> None:
    base = cache_key("support", "m", "v1", "hi", {"lang": "en"})
    assert cache_key("sales", "m", "v1", "hi", {"lang": "en"}) != base
    assert cache_key("support", "m2", "v1", "hi", {"lang": "en"}) != base
    assert cache_key("support", "m", "v2", "hi", {"lang": "en"}) != base
    assert cache_key("support", "m", "v1", "hi", {"lang": "fr"}) != base
    assert cache_key("support", "m", "v1", "hi", {}) != base
    assert cache_key("support", "m", "v1", "hi bye", {"lang": "en"}) != base


def test_context_key_order_does_not_matter() -> None:
    assert key(a=1, b={"y": 2, "x": 1}) == key(b={"x": 1, "y": 2}, a=1)


def test_fields_cannot_run_into_each_other() -> None:
    assert cache_key("ab", "c", "v", "t", {}) != cache_key("a", "bc", "v", "t", {})


async def test_ttl_is_passed_to_the_backend(
    backend: SimpleMemoryCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real_set = backend.set

    async def spy(k: str, value: str, ttl: Any = None) -> Any:
        seen.append(ttl)
        return await real_set(k, value, ttl=ttl)

    monkeypatch.setattr(backend, "set", spy)
    await ResponseCache(backend).set(key(), ANSWER, ttl_s=42)
    assert seen == [42]


async def test_entries_expire(backend: SimpleMemoryCache) -> None:
    cache = ResponseCache(backend)
    await cache.set(key(), ANSWER, ttl_s=60)
    await backend.expire(key(), 0.01)  # the memory backend takes float ttls; ours are whole s
    await asyncio.sleep(0.03)
    assert await cache.get(key()) is None


async def test_failing_backend_behaves_as_a_miss(
    backend: SimpleMemoryCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Connection refused")

    for method in ("get", "set", "close"):
        monkeypatch.setattr(backend, method, down)
    cache = ResponseCache(backend)
    with capture_logs() as logs:
        await cache.set(key(), ANSWER, ttl_s=60)
        assert await cache.get(key()) is None
        await cache.close()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("cache_set_failed", "warning"),
        ("cache_get_failed", "warning"),
        ("cache_close_failed", "warning"),
    ]


async def test_timeout_behaves_as_a_miss(
    backend: SimpleMemoryCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hangs(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError

    monkeypatch.setattr(backend, "get", hangs)
    assert await ResponseCache(backend).get(key()) is None


async def test_unreadable_entry_is_a_miss(backend: SimpleMemoryCache) -> None:
    await backend.set(key(), "not json")
    with capture_logs() as logs:
        assert await ResponseCache(backend).get(key()) is None
    assert logs[0]["event"] == "cache_entry_unreadable"


def test_redis_without_the_extra_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiocache.backends.redis", None)  # import fails
    settings = CacheSettings(backend="redis", redis_url="redis://localhost:6379/0")
    with pytest.raises(ConfigError, match=r"llmrouter\[redis\]"):
        ResponseCache.from_settings(settings)


def test_bad_redis_url_is_a_config_error_without_the_password() -> None:
    settings = CacheSettings(backend="redis", redis_url="http://:hunter2@localhost/x")
    with pytest.raises(ConfigError) as info:
        ResponseCache.from_settings(settings)
    assert "hunter2" not in str(info.value)

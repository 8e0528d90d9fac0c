"""The Redis cache backend against a real redis-server: replicas share answers."""

from __future__ import annotations

import shutil

import pytest

from llmrouter.router.cache import CachedAnswer, ResponseCache, cache_key
from llmrouter.router.config import CacheSettings

pytestmark = [
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    # aiocache 0.12 calls redis-py methods that redis-py deprecates (setex, close); they
    # work, and outside tests Python does not turn the warning into an error.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


# `redis_url`: the session's redis-server (tests/conftest.py).


async def test_two_replicas_share_answers_through_redis(redis_url: str) -> None:
    settings = CacheSettings(backend="redis", redis_url=redis_url)
    first, second = ResponseCache.from_settings(settings), ResponseCache.from_settings(settings)
    try:
        key = cache_key("qa", "cheap", "v1", "How do I reset my password?", {})
        assert await second.get(key) is None
        answer = CachedAnswer(
            text="Click 'Forgot password'.", model_version="m-1", input_tokens=9, output_tokens=4
        )
        await first.set(key, answer, ttl_s=60)
        assert await second.get(key) == answer
        other = cache_key("qa", "cheap", "v1", "How do I change my email?", {})
        assert await second.get(other) is None
    finally:
        await first.close()
        await second.close()

"""The state store on a real redis-server: connecting, scripts, errors and secrets."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from redis import exceptions as redis_exceptions

from llmrouter.core.errors import ConfigError, StateStoreError, StateStoreUnavailable
from llmrouter.router.state import StateStore, StoreSettings, redacted_url
from llmrouter.router.state.store import cluster_option, translate, translations
from tests.kafka_helpers import free_port
from tests.redis_helpers import redis_available, running_redis


def test_every_redis_exception_class_is_translated() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(redis_exceptions, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__.startswith("redis")
    ]
    assert classes
    unmapped = [cls.__name__ for cls in classes if cls not in translations()]
    assert unmapped == [], f"add these redis-py exceptions to translations(): {unmapped}"
    assert isinstance(
        translate(redis_exceptions.ConnectionError("refused"), "redis://h"), StateStoreUnavailable
    )
    wrong_type = translate(redis_exceptions.ResponseError("WRONGTYPE"), "redis://h")
    assert type(wrong_type) is StateStoreError


def test_password_never_printed() -> None:
    assert redacted_url("redis://:s3cret@db:6380/2") == "redis://:***@db:6380/2"
    assert redacted_url("rediss://app:s3cret@db/0") == "rediss://app:***@db/0"
    assert redacted_url("redis://db:6379/0") == "redis://db:6379/0"
    store = StateStore.connect("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in store.url


def test_url_from_config_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMROUTER_REDIS_URL", raising=False)
    assert StoreSettings.from_env(None).url is None
    monkeypatch.setenv("LLMROUTER_REDIS_URL", "redis://env:6379/0")
    assert StoreSettings.from_env(None).url == "redis://env:6379/0"
    assert StoreSettings.from_env("redis://config:6379/0").url == "redis://config:6379/0"
    with pytest.raises(ConfigError, match=r"defaults\.state\.redis_url") as caught:
        StoreSettings.from_env("http://:pw@x")
    assert "pw" not in str(caught.value)
    # a bad URL from the environment names its variable, never the URL
    monkeypatch.setenv("LLMROUTER_REDIS_URL", "http://:pw@x")
    with pytest.raises(ConfigError, match="LLMROUTER_REDIS_URL") as caught:
        StoreSettings.from_env(None)
    assert "pw" not in str(caught.value)


def test_settings_never_show_the_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-file\n")
    monkeypatch.setenv("LLMROUTER_REDIS_URL", "redis://:s3cret-url@db:6379/0")
    monkeypatch.setenv("LLMROUTER_REDIS_PASSWORD_FILE", str(secret))
    settings = StoreSettings.from_env()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "s3cret-file"
    assert settings.url == "redis://:s3cret-url@db:6379/0"
    for shown in (repr(settings), str(settings)):
        assert "s3cret" not in shown
        assert "redis://:***@db:6379/0" in shown
    monkeypatch.setenv("LLMROUTER_REDIS_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="LLMROUTER_REDIS_PASSWORD_FILE: cannot read"):
        StoreSettings.from_env()


async def test_round_trip_and_script(state_store: StateStore) -> None:
    await state_store.ping()
    key = state_store.key("probe")
    await state_store.run(lambda c: c.set(key, b"1", px=5000))
    incr = state_store.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await incr([key], [41]) == 42


async def test_wrong_type_is_a_store_error(state_store: StateStore) -> None:
    key = state_store.key("hash")
    await state_store.run(lambda c: c.hset(key, "f", "v"))
    with pytest.raises(StateStoreError, match="ResponseError"):
        await state_store.run(lambda c: c.incr(key))


async def test_unreachable_store_is_unavailable_without_the_password() -> None:
    store = StateStore.connect(f"redis://:s3cret@127.0.0.1:{free_port()}/0", timeout_s=10)
    try:
        with pytest.raises(StateStoreUnavailable) as caught:
            await store.ping()
        assert "s3cret" not in str(caught.value)
        # Marked down: the next calls fail at once instead of waiting out a timeout. The
        # message says which path failed; the clock only tells "at once" from the 10 s
        # timeout, with half of it to spare for a loaded machine.
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(StateStoreUnavailable, match="retrying soon"):
            await store.ping()
        assert loop.time() - started < 5.0
    finally:
        await store.aclose()


@pytest.mark.skipif(not redis_available(), reason="needs redis-server")
async def test_password_from_a_mounted_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-file\n")
    async with running_redis("--requirepass", "s3cret-file") as url:
        without = StateStore.connect(url)
        with_file = StateStore.connect(
            StoreSettings.from_environment(url=url, password_file=secret)
        )
        try:
            with pytest.raises(StateStoreUnavailable):
                await without.ping()
            await with_file.ping()
        finally:
            await without.aclose()
            await with_file.aclose()
        with pytest.raises(ConfigError, match="password file"):
            StoreSettings.from_environment(url=url, password_file=tmp_path / "missing")


def test_cluster_is_a_query_parameter_kept_out_of_the_client() -> None:
    assert cluster_option("redis://h:7000/0") == ("redis://h:7000/0", False)
    assert cluster_option("rediss://u:pw@h:7000/0?cluster=true&ssl_cert_reqs=none") == (
        "rediss://u:pw@h:7000/0?ssl_cert_reqs=none",
        True,
    )
    assert cluster_option("redis://h?cluster=no") == ("redis://h", False)
    for bad in ("redis://:pw@h?cluster=maybe", "redis://:pw@h:7000/2?cluster=true"):
        with pytest.raises(ConfigError, match=r"defaults\.state\.redis_url") as caught:
            StoreSettings.from_env(bad)
        assert "pw" not in str(caught.value)
    store = StateStore.connect("rediss://:s3cret@127.0.0.1:1/0?cluster=true")
    assert store.cluster
    assert store.url == "rediss://:***@127.0.0.1:1/0?cluster=true"


def test_keys_used_together_share_one_hash_tag() -> None:
    store = StateStore(None, url="redis://h", prefix="p")
    assert store.key("limit", "gpt-4o", "calls") == "p:limit:{gpt-4o}:calls"
    assert store.key("budget", "2026-12-02", "qa") == "p:budget:{2026-12-02}:qa"
    assert store.key("dedupe", "r1") == "p:dedupe:{r1}"
    assert store.key("probe") == "p:probe"
    assert store.key("budget", "*") == "p:budget:*"  # a pattern over every day
    # Braces in a name cannot move or empty the tag; distinct names stay distinct.
    assert store.key("breaker", "}m{", "open") == "p:breaker:{%7Dm%7B}:open"
    assert store.key("breaker", "%7Dm%7B", "open") != store.key("breaker", "}m{", "open")


def test_batches_keep_to_one_slot_on_a_cluster() -> None:
    from redis.crc import key_slot

    keys = [f"p:dedupe:{{r{i}}}" for i in range(50)]
    single = StateStore(None, url="redis://h")
    assert single.same_slot_batches(keys, 20) == [keys[:20], keys[20:40], keys[40:]]
    batches = StateStore(None, url="redis://h", cluster=True).same_slot_batches(keys, 20)
    assert sorted(k for batch in batches for k in batch) == sorted(keys)
    assert all(len({key_slot(k.encode()) for k in batch}) == 1 for batch in batches)
    assert len(batches) > 1

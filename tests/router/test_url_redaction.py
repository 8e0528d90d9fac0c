"""A store URL is logged only with its password masked, wherever the URL carries one."""

from __future__ import annotations

import pytest

from llmrouter.router.state import StoreSettings, redacted_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@db:6380/2", "redis://:***@db:6380/2"),
        ("rediss://app:s3cret@db/0", "rediss://app:***@db/0"),
        (
            "redis://db:6379/0?password=s3cret&cluster=true",
            "redis://db:6379/0?password=***&cluster=true",
        ),
        ("redis://u:s3cret@db/0?PASSWORD=s3cret", "redis://u:***@db/0?PASSWORD=***"),
        ("redis://:s3cret@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
        ("redis://db:6379/0", "redis://db:6379/0"),
        ("redis://:s3cret@db:99999999/0", "(unparsable URL)"),
    ],
)
def test_the_password_is_masked(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
    assert "s3cret" not in redacted_url(url)


def test_settings_repr_masks_a_query_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMROUTER_REDIS_URL", "redis://db:6379/0?password=s3cret")
    monkeypatch.setenv("LLMROUTER_REDIS_PASSWORD", "0ther-s3cret")
    settings = StoreSettings.from_env()
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings)

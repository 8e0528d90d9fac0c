"""Keep API keys out of everything we print, log, publish or raise."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

__all__ = ["read_api_key", "redact"]

# Shapes of common provider keys, plus bearer tokens, so they are masked even when we
# never saw the value (e.g. a provider echoing part of a key in an error body).
_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}|(?i:x-api-key)[\"':=\s]+[A-Za-z0-9._\-]{8,})"
)
_MASK = "[redacted]"
_known_secrets: set[str] = set()


def read_api_key(env_var: str | None, file: Path | None) -> str | None:
    """The key from a mounted secret file or an environment variable, remembered for redaction."""
    key: str | None = None
    if file is not None:
        key = _read_file(file)
    elif env_var:
        key = os.environ.get(env_var) or None
    if key:
        _known_secrets.add(key)
    return key


@lru_cache(maxsize=32)
def _read_file(file: Path) -> str | None:
    try:
        return file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def redact(text: str) -> str:
    """`text` with every known key and anything shaped like a key replaced by a mask."""
    for secret in _known_secrets:
        if len(secret) >= 6 and secret in text:
            text = text.replace(secret, _MASK)
    return _KEY_SHAPES.sub(_MASK, text)

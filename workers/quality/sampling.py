"""Which requests are sampled: a hash of the request id (and what it is sampled for), so a
redelivered record makes the same choice."""

from __future__ import annotations

import hashlib

__all__ = ["sampled"]


def sampled(request_id: str, purpose: str, rate: float) -> bool:
    """Whether `request_id` is in the `rate` share sampled for `purpose`."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    digest = hashlib.blake2b(f"{purpose}\x1f{request_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < rate

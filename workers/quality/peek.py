"""What the quality worker reads of a request before deciding to decode it.

It reads every live request to keep the sampled tenth or so (sampling.py): the sample is
a hash of the request id, so the id and the task are all it needs to choose, and a
request sampled for nothing is dropped without being decoded into an `LLMRequest`.
`request_keys` is the one place that reads them from the raw JSON; it answers only when
it reads exactly what the schema's decoder would (a test holds the two together), and
otherwise says nothing, so the record is decoded in full and handled as before.
"""

from __future__ import annotations

import orjson

__all__ = ["RequestKeys", "request_keys"]

#: a request's id and task, as its decoded `LLMRequest` holds them
RequestKeys = tuple[str, str]


def request_keys(raw: bytes | None) -> RequestKeys | None:
    """The `request_id` and `task` of a raw request, or None when this cannot tell (not a
    JSON object orjson reads, or either field missing or not a string): then only a full
    decode can say what the record is. A value that gives keys may still be an invalid
    request; only a sampled one is decoded to find out."""
    if not raw:
        return None
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:  # pydantic's parser reads some of these (NaN, ...)
        return None
    if not isinstance(message, dict):
        return None
    request_id, task = message.get("request_id"), message.get("task")
    if isinstance(request_id, str) and isinstance(task, str):
        return request_id, task
    return None

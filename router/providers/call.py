"""One provider call through an SDK client's own low-level `post`, with a light read.

The SDK client keeps what it is for: authentication, base URL, default headers, the
HTTP transport, and raising its own error classes for every non-2xx answer and transport
failure. What it costs per call on top of that (the typed `create()`: the TypedDict
transform of the parameters and building a pydantic model of the whole answer) is not
paid: the body is serialised once with orjson and sent as bytes, the answer comes back as
the raw HTTP response, and the caller reads only the few fields it uses from one orjson
parse. Measured per call against the simulator in bench/provider_call.py.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import orjson

__all__ = ["TRANSPORT_ERRORS", "post_json"]

#: What a call may raise besides the SDK's own errors that is the provider's fault, not
#: ours: transport errors and unreadable bodies (orjson's decode error is a ValueError).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, ValueError)


@cache
def _response_type() -> type[Any]:
    # The SDKs moved from httpx to httpx2; take whichever this install has.
    for name in ("httpx2", "httpx"):
        try:
            cls: type[Any] = importlib.import_module(name).Response
        except ImportError:
            continue
        return cls
    raise ImportError("neither httpx2 nor httpx is installed")


async def post_json(client: Any, path: str, body: dict[str, Any], timeout_s: float) -> Any:
    """POST `body` as JSON through the SDK `client`; the parsed JSON answer.

    `cast_to` = the HTTP library's Response makes the SDK return the response as it came
    (after raising its status errors), so nothing is validated or built from it."""
    response = await client.post(
        path,
        content=orjson.dumps(body),
        cast_to=_response_type(),
        options={"timeout": timeout_s},
    )
    return orjson.loads(response.content)

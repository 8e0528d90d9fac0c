"""One provider call: the SDK decides the request, a light path replays it.

`SdkProvider.complete` is every client's call: the body the client builds, posted through
its `JsonEndpoint` within the request's timeout, the SDK's and the transport's errors
translated into ours, the answer read by the client. A client (anthropic_client.py,
openai_client.py, azure_client.py) says only what differs: its SDK client, the body it
sends and how it reads the answer.

The SDK client keeps what it is for: base URL, authentication, default headers and its
own error classes. What it costs per call on top of that (the typed `create()`: the
TypedDict transform of the parameters, building the request through its HTTP stack,
a pydantic model of the whole answer; about 1.9 ms of CPU per call, bench/provider_call.py)
is not paid on the hot path:

- the first call of an endpoint goes through the SDK's own low-level `post`, and the URL
  and headers the SDK sent (auth included) are taken from the wire by a request hook;
- every later call sends the same URL and headers with a new body (serialised once with
  orjson) over kept-alive connections, as many as what can be in flight (light_http.py:
  the request head built once, one write per call, the answer framed and read as
  HTTP/1.1 frames it), and reads the answer with one orjson parse;
- a status of 400 or more becomes the SDK's own exception, built by the SDK from the
  response (so Retry-After, messages and classes are exactly the SDK's), transport
  failures the SDK's APIConnectionError; a 401 or 403 sends the next call through the
  SDK again, in case its credentials changed.

A client whose SDK signs each request (Bedrock's SigV4 covers the body and the time) or
holds a token that expires (Vertex AI's Google access token) sets `through_sdk`: every call
then goes through the SDK's own `post`, which signs or refreshes it.
"""

from __future__ import annotations

import asyncio
import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import ModuleType
from typing import Any

import aiohttp
import orjson
from yarl import URL

from llmrouter.core.errors import ProviderTimeout
from llmrouter.router.providers.base import ChatRequest, Completion
from llmrouter.router.providers.errors import translate_sdk_error
from llmrouter.router.providers.light_http import HttpAnswer, HttpProtocolError, LightHttp, head
from llmrouter.router.providers.transport import POOL_SIZE

__all__ = ["TRANSPORT_ERRORS", "JsonEndpoint", "SdkProvider"]

#: What a call may raise besides the SDK's own errors that is the provider's fault, not
#: ours: transport errors and unreadable bodies (orjson's decode error is a ValueError).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ValueError,
    aiohttp.ClientError,
)

#: headers of the captured request that belong to that one request or to its HTTP stack
_PER_REQUEST = frozenset(
    {"content-length", "host", "idempotency-key", "transfer-encoding", "connection"}
    | {"accept-encoding"}  # aiohttp asks for what it can decode
)


def _http() -> ModuleType:
    # The SDKs moved from httpx to httpx2; take whichever this install has.
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("neither httpx2 nor httpx is installed")


class JsonEndpoint:
    """POST JSON to one path of an SDK client's API; returns the parsed JSON answer.

    `make_client(http_client)` builds the SDK client on the HTTP client it is given (the
    one whose request hook captures what the SDK sends)."""

    def __init__(
        self,
        sdk: ModuleType,
        make_client: Callable[[Any], Any],
        path: str,
        *,
        through_sdk: bool = False,
    ) -> None:
        self._sdk = sdk
        self._through_sdk_only = through_sdk
        self._http = _http()
        self._path = path
        # A client whose every call goes through the SDK pools as many connections as the
        # light path does (the HTTP client's default of 100 would queue a burst).
        limits = (
            {
                "limits": self._http.Limits(
                    max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE
                )
            }
            if through_sdk
            else {}
        )
        self.client: Any = make_client(
            self._http.AsyncClient(event_hooks={"request": [self._capture]}, **limits)
        )
        self._status_error: Callable[[Any], BaseException] | None = getattr(
            self.client, "_make_status_error_from_response", None
        )
        #: the URL of the request the SDK sent and its request head (light_http.py), once
        #: it sent one: built once, for every call
        self._wire: tuple[URL, bytes] | None = None
        self._http_client: LightHttp | None = None
        self._probing = False
        self._ready = asyncio.Event()

    async def _capture(self, request: Any) -> None:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _PER_REQUEST]
        url = URL(str(request.url))
        self._wire = (url, head(url, headers))
        self._ready.set()

    async def post(self, body: dict[str, Any], timeout_s: float) -> Any:
        if self._through_sdk_only:  # signed per request, or a token that expires
            return await self._each_through_sdk(body, timeout_s)
        if self._status_error is None:  # an SDK without it: every call through the SDK
            return await self._through_sdk(body, timeout_s)
        while self._wire is None:
            # One call at a time goes through the SDK until it has sent a request; the
            # others wait for that (a burst of thousands would queue in its small pool).
            if not self._probing:
                self._probing = True
                self._ready.clear()
                try:
                    return await self._through_sdk(body, timeout_s)
                finally:
                    self._probing = False
                    self._ready.set()  # the waiters take the light path, or probe again
            await self._ready.wait()
        url, request_head = self._wire
        client = self._http_client
        if client is None or client.closed:
            client = self._http_client = self._new_client(url)
        try:
            response = await client.post(request_head, orjson.dumps(body))
        except (OSError, HttpProtocolError) as exc:
            raise self._sdk.APIConnectionError(
                request=self._http.Request("POST", str(url))
            ) from exc
        if response.status >= 400:
            if response.status in (401, 403):
                self._wire = None  # the next call lets the SDK authenticate again
            raise self._status_error(self._response(response, str(url)))
        return orjson.loads(response.body)

    async def _through_sdk(self, body: dict[str, Any], timeout_s: float) -> Any:
        """The SDK's low-level post with a prebuilt body; its request hook records the wire."""
        response = await self.client.post(
            self._path,
            content=orjson.dumps(body),
            cast_to=self._http.Response,  # the response as it came, nothing built from it
            options={"timeout": timeout_s},
        )
        return orjson.loads(response.content)

    async def _each_through_sdk(self, body: dict[str, Any], timeout_s: float) -> Any:
        """The SDK's low-level post with the body itself, which a platform client rewrites
        (Bedrock and Vertex AI move `model` into the URL) before signing the request."""
        response = await self.client.post(
            self._path,
            body=body,
            cast_to=self._http.Response,
            options={"timeout": timeout_s},
        )
        return orjson.loads(response.content)

    def _response(self, response: HttpAnswer, url: str) -> Any:
        return self._http.Response(
            response.status,
            headers=response.headers,
            content=response.body,
            request=self._http.Request("POST", url),
        )

    def _new_client(self, url: URL) -> LightHttp:
        ssl_context = getattr(self._http, "create_ssl_context", None)
        context = ssl_context() if ssl_context and url.scheme == "https" else None
        return LightHttp(url, pool_size=POOL_SIZE, ssl_context=context)

    async def aclose(self) -> None:
        if self._http_client is not None:
            await self._http_client.aclose()
        await self.client.close()


class SdkProvider(ABC):
    """A `ProviderClient` on an SDK's client (`make_client(http_client)`), posting to
    `path`; `sdk_error` is the root of the SDK's exceptions."""

    def __init__(
        self,
        provider: str,
        sdk: ModuleType,
        make_client: Callable[[Any], Any],
        path: str,
        sdk_error: type[BaseException],
        *,
        through_sdk: bool = False,
        extra_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.provider = provider
        self._endpoint = JsonEndpoint(sdk, make_client, path, through_sdk=through_sdk)
        #: every SDK and transport error, translated at this boundary
        self._errors: tuple[type[BaseException], ...] = (
            sdk_error,
            *extra_errors,
            *TRANSPORT_ERRORS,
        )

    @abstractmethod
    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body of one call, as the SDK's own `create()` would send it."""

    @abstractmethod
    def read(self, request: ChatRequest, data: Any) -> Completion:
        """The completion in the parsed answer; ProviderError when it cannot be read."""

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            # asyncio.timeout bounds the whole call; the SDK's timeout only bounds each phase.
            async with asyncio.timeout(request.timeout_s):
                data = await self._endpoint.post(self.body(request), request.timeout_s)
        except TimeoutError:
            raise ProviderTimeout(
                f"no answer within {request.timeout_s}s",
                model=request.model_id,
                provider=self.provider,
            ) from None
        except self._errors as exc:
            raise translate_sdk_error(exc, model=request.model_id, provider=self.provider) from None
        return self.read(request, data)

    async def aclose(self) -> None:
        await self._endpoint.aclose()

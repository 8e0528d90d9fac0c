"""HTTP/1.1 POSTs to one origin over kept-alive connections: the light path's transport.

The light path (call.py) sends the same URL and headers on every call with a new JSON
body. aiohttp's `ClientSession` builds a request object, merges headers, consults a
cookie jar and runs its redirect and tracing machinery on every call: about 60 µs of CPU
against about 20 µs for the bytes themselves (bench/provider_call.py). This client does
only what the light path needs:

- the request head is built once per URL and headers (`head`); a call writes it, the
  body's length and the body in one write;
- connections are kept alive and reused last-in first-out, at most `pool_size` at once
  (a call waits for one beyond that); a connection the server closed, one idle for more
  than `KEEPALIVE_S` (aiohttp's default), or one whose call was cut off or failed, is
  never reused;
- the answer is read as HTTP/1.1 frames it: a `Content-Length`, `chunked` transfer
  coding, or the bytes until the server closes; 1xx answers are skipped; the body is
  asked for uncompressed (`Accept-Encoding: identity`) and a gzip or deflate one is
  decompressed all the same.

No redirects, cookies or proxies (the aiohttp session it replaces followed no proxy
either; an API answers a POST, it does not redirect it). Transport failures are
`OSError`s (`ConnectionResetError` for a connection closed mid-answer) and an answer that
breaks the protocol is `HttpProtocolError`, a `ValueError`: call.py turns both into the
SDK's connection error.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import Iterable
from typing import cast

from yarl import URL

__all__ = ["HttpAnswer", "HttpProtocolError", "LightHttp", "head"]

#: the most an answer's status line and headers may take
MAX_HEAD_BYTES = 65_536
#: how long an idle connection is kept for reuse (a server or a NAT may drop it silently)
KEEPALIVE_S = 15.0
_CRLF = b"\r\n"
_END_OF_HEAD = b"\r\n\r\n"


class HttpProtocolError(ValueError):
    """An answer that is not HTTP/1.1 as this client reads it."""


def head(url: URL, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request head of a POST to `url` with `headers`, up to its `Content-Length`
    value (the call appends the length and the body)."""
    lines = [f"POST {url.raw_path_qs or '/'} HTTP/1.1", f"Host: {url.host_port_subcomponent}"]
    for name, value in headers:
        if any(c in name or c in value for c in "\r\n\0") or ":" in name:
            raise ValueError(f"header {name!r} holds a character a header may not")
        lines.append(f"{name}: {value}")
    lines += ["Accept-Encoding: identity", "Content-Length: "]
    return "\r\n".join(lines).encode("latin-1")


class HttpAnswer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    """One connection: one call at a time, its answer parsed as the bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        #: when it was last put back for reuse (time.monotonic)
        self.idle_since = 0.0
        self._answer: asyncio.Future[HttpAnswer] | None = None
        self._buffer = bytearray()
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        #: the body's framing once the head is read: its length, "chunked", or "close"
        self._framing: int | str | None = None
        self._chunks = bytearray()
        self._encoding = ""

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is not a subclass of asyncio's, but has its methods)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        answer = self._answer
        if answer is None or answer.done():
            # bytes after the answer or with no call waiting: out of step, never reused
            self.keep_alive = False
            if answer is None:
                self.abort()
            return
        self._buffer += data
        try:
            self._parse(eof=False)
        except HttpProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        self.keep_alive = False
        if not self._buffer and self._framing is None:
            return False  # nothing of an answer: connection_lost tells the call
        if self._answer is not None and not self._answer.done():
            try:
                self._parse(eof=True)
            except HttpProtocolError as exc:
                self._fail(exc)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            lost = ConnectionResetError("the server closed the connection before its answer")
            if exc is not None:
                lost.__cause__ = exc
            self._answer.set_exception(lost)

    # -- one call -----------------------------------------------------------------------

    def send(self, request: bytes, answer: asyncio.Future[HttpAnswer]) -> None:
        assert self.transport is not None
        self._answer = answer
        self._buffer.clear()
        self._status, self._headers, self._framing = 0, [], None
        self._chunks.clear()
        self._encoding = ""
        self.transport.write(request)

    def reusable(self) -> bool:
        """Open, and neither closing nor told by the server that it will close."""
        transport = self.transport
        return (
            not self.closed
            and self.keep_alive
            and transport is not None
            and not transport.is_closing()
        )

    def finished(self) -> None:
        self._answer = None
        self._buffer.clear()
        self._chunks.clear()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        self.abort()

    # -- parsing ------------------------------------------------------------------------

    def _parse(self, *, eof: bool) -> None:
        while self._framing is None:  # the head (1xx answers skipped)
            end = self._buffer.find(_END_OF_HEAD)
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise HttpProtocolError("an answer's head over 64 KiB")
                if eof:
                    raise HttpProtocolError("the server closed the connection mid-head")
                return
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self._read_head(raw)
        if self._framing == "chunked":
            body = self._read_chunked()
        elif self._framing == "close":
            if not eof:
                return
            body = bytes(self._buffer)
        else:
            assert isinstance(self._framing, int)
            if len(self._buffer) < self._framing:
                if eof:
                    raise HttpProtocolError("the server closed the connection mid-body")
                return
            if len(self._buffer) > self._framing:  # more than the answer: not reusable
                self.keep_alive = False
            body = bytes(self._buffer[: self._framing])
        if body is None:
            if eof:
                raise HttpProtocolError("the server closed the connection mid-body")
            return
        assert self._answer is not None
        self._answer.set_result(HttpAnswer(self._status, self._headers, self._decoded(body)))

    def _read_head(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(parts[1])
        headers: list[tuple[str, str]] = []
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise HttpProtocolError("a header line with no colon")
            value = value.strip()
            headers.append((name, value))
            lowered = name.strip().lower()
            if lowered == "content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise HttpProtocolError(f"Content-Length {value[:40]!r}")
                length = int(value)
            elif lowered == "transfer-encoding":
                chunked = value.lower().endswith("chunked")
            elif lowered == "connection" and "close" in value.lower():
                self.keep_alive = False
            elif lowered == "content-encoding":
                self._encoding = value.lower()
        if parts[0] == "HTTP/1.0":
            self.keep_alive = False
        if 100 <= status < 200:  # an interim answer (e.g. 103 Early Hints): the real one follows
            return
        self._status, self._headers = status, headers
        if status in (204, 304):
            self._framing = 0
        elif chunked:
            self._framing = "chunked"
        elif length is not None:
            self._framing = length
        else:
            self._framing = "close"
            self.keep_alive = False

    def _read_chunked(self) -> bytes | None:
        """The whole body once its last chunk is in, else None (and what is complete is
        moved from the buffer to the body so far)."""
        buffer = self._buffer
        while True:
            line_end = buffer.find(_CRLF)
            if line_end < 0:
                return None
            size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpProtocolError(f"a chunk size {size_text[:20]!r}") from None
            if size == 0:  # the last chunk, then trailer lines up to an empty line
                position = line_end + 2
                while True:
                    next_end = buffer.find(_CRLF, position)
                    if next_end < 0:
                        return None
                    if next_end == position:
                        break
                    position = next_end + 2
                if len(buffer) > position + 2:  # more than the answer: not reusable
                    self.keep_alive = False
                return bytes(self._chunks)
            start = line_end + 2
            if len(buffer) < start + size + 2:
                return None
            if buffer[start + size : start + size + 2] != _CRLF:
                raise HttpProtocolError("a chunk not ended by CRLF")
            self._chunks += buffer[start : start + size]
            del buffer[: start + size + 2]

    def _decoded(self, body: bytes) -> bytes:
        encoding = self._encoding
        if encoding in ("", "identity"):
            return body
        try:
            if encoding in ("gzip", "x-gzip"):
                return zlib.decompress(body, 16 + zlib.MAX_WBITS)
            if encoding == "deflate":
                try:
                    return zlib.decompress(body)
                except zlib.error:
                    return zlib.decompress(body, -zlib.MAX_WBITS)
        except zlib.error as exc:
            raise HttpProtocolError(f"a {encoding} body that does not decompress") from exc
        raise HttpProtocolError(f"a body in the {encoding!r} coding, which was not asked for")


class LightHttp:
    """POSTs to the origin of `url` (scheme, host and port), `pool_size` connections at
    most; `ssl_context` for https (the default context when None)."""

    def __init__(
        self, url: URL, *, pool_size: int, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"an http or https URL, not {url.scheme!r}")
        self._host = url.host
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = None
        if url.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._idle: deque[_Connection] = deque()
        self._all: set[_Connection] = set()
        self._slots = asyncio.Semaphore(pool_size)
        self.closed = False

    async def post(self, request_head: bytes, body: bytes) -> HttpAnswer:
        """POST `body` with the head `head()` built; the answer, whatever its status."""
        if self.closed:
            raise ConnectionError("the client is closed")
        async with self._slots:
            connection = await self._connection()
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[HttpAnswer] = loop.create_future()
            try:
                connection.send(
                    request_head + str(len(body)).encode() + _END_OF_HEAD + body, answer
                )
                del body  # written (or the transport's to keep): not held for the answer
                result = await answer
            except BaseException:  # cut off or failed: its state is unknown, never reused
                self._drop(connection)
                raise
            connection.finished()
            if connection.keep_alive and not connection.closed and not self.closed:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                self._drop(connection)
            return result

    def _drop(self, connection: _Connection) -> None:
        connection.abort()
        self._all.discard(connection)

    async def _connection(self) -> _Connection:
        idle = self._idle
        if idle:
            stale_before = time.monotonic() - KEEPALIVE_S
            while idle and idle[0].idle_since < stale_before:  # the longest idle first
                self._drop(idle.popleft())
            while idle:
                connection = idle.pop()
                if connection.reusable():
                    return connection
                self._drop(connection)
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection,
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl is not None else None,
        )
        self._all.add(connection)
        return connection

    async def aclose(self) -> None:
        self.closed = True
        for connection in list(self._all):
            connection.abort()
        self._all.clear()
        self._idle.clear()
        # one turn of the loop: the aborted transports close their sockets in callbacks
        # it runs, before a caller that closes the loop next could leave them open
        await asyncio.sleep(0)

"""The light path's HTTP/1.1 client against a real socket server that answers with the
bytes each test gives it: framing (length, chunked, until close), 1xx answers, gzip,
connection reuse, and failures that leave no connection behind for the next call."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Callable

import pytest
from yarl import URL

from llmrouter.router.providers import light_http
from llmrouter.router.providers.light_http import HttpProtocolError, LightHttp, head

Answer = Callable[[bytes], bytes | None]  # the request's bytes -> the answer's (None: hang up)


class Server:
    """Reads one request at a time per connection (its head and Content-Length body) and
    writes what `answer` returns; closes the connection after it when `close_after`."""

    def __init__(self) -> None:
        self.answer: Answer = lambda _request: ok(b'{"a": 1}')
        self.connections = 0
        self.requests: list[bytes] = []
        self.close_after = False
        #: the answer is written this many bytes at a time (each write drained)
        self.piece_bytes = 1 << 20
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                request_head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in request_head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = request_head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is None:
                    break
                for start in range(0, len(answer), self.piece_bytes):
                    writer.write(answer[start : start + self.piece_bytes])
                    await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    server = Server()
    await server.start()
    yield server
    await server.stop()


@contextlib.asynccontextmanager
async def _client(server: Server) -> AsyncIterator[tuple[LightHttp, bytes]]:
    """A client of `server` and the request head of its calls; closed on the way out."""
    url = URL(f"http://127.0.0.1:{server.port}/v1/chat?x=1")
    client = LightHttp(url, pool_size=8)
    try:
        yield client, head(url, [("Authorization", "Bearer k")])
    finally:
        await client.aclose()


async def test_a_post_sends_its_head_and_body_and_reuses_the_connection(server: Server) -> None:
    async with _client(server) as (client, request_head):
        first = await client.post(request_head, b'{"q": 1}')
        second = await client.post(request_head, b'{"q": 22}')
    assert (first.status, first.body, second.body) == (200, b'{"a": 1}', b'{"a": 1}')
    assert server.connections == 1  # kept alive
    lines = server.requests[1].split(b"\r\n")
    assert lines[0] == b"POST /v1/chat?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Authorization: Bearer k" in lines
    assert b"Accept-Encoding: identity" in lines
    assert server.requests[1].endswith(b'Content-Length: 9\r\n\r\n{"q": 22}')


async def test_a_chunked_answer_with_extensions_and_trailers(server: Server) -> None:
    server.answer = lambda _r: (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4;ext=1\r\n{"a"\r\n5\r\n: 12}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    async with _client(server) as (client, request_head):
        answers = [await client.post(request_head, b"{}") for _ in range(2)]
    assert [a.body for a in answers] == [b'{"a": 12}', b'{"a": 12}']
    assert server.connections == 1


async def test_an_answer_without_a_length_is_read_until_close(server: Server) -> None:
    server.answer = lambda _r: b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    server.close_after = True
    async with _client(server) as (client, request_head):
        answers = [await client.post(request_head, b"{}") for _ in range(2)]
    assert [a.body for a in answers] == [b"all of it", b"all of it"]
    assert server.connections == 2  # a close-framed connection is never reused


async def test_interim_answers_are_skipped_and_gzip_is_decompressed(server: Server) -> None:
    packed = gzip.compress(b'{"a": "packed"}')
    server.answer = lambda _r: (
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        + ok(packed, "Content-Encoding: gzip", "Retry-After: 3")
    )
    async with _client(server) as (client, request_head):
        answer = await client.post(request_head, b"{}")
    assert (answer.status, answer.body) == (200, b'{"a": "packed"}')
    assert ("Retry-After", "3") in answer.headers


async def test_an_error_status_is_an_answer_with_its_headers(server: Server) -> None:
    body = b'{"error": {"message": "slow down"}}'
    server.answer = lambda _r: (
        (
            f"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: {len(body)}"
            "\r\n\r\n"
        ).encode()
        + body
    )
    async with _client(server) as (client, request_head):
        answer = await client.post(request_head, b"{}")
    assert (answer.status, answer.body) == (429, body)
    assert ("Retry-After", "7") in answer.headers


async def test_a_connection_closed_mid_answer_fails_the_call_and_is_not_reused(
    server: Server,
) -> None:
    answers = iter([b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"cut', ok(b"{}")])
    server.answer = lambda _r: next(answers)
    server.close_after = True
    async with _client(server) as (client, request_head):
        with pytest.raises(HttpProtocolError):
            await client.post(request_head, b"{}")
        assert (await client.post(request_head, b"{}")).body == b"{}"
    assert server.connections == 2


async def test_a_server_that_hangs_up_is_a_connection_error(server: Server) -> None:
    server.answer = lambda _r: None
    async with _client(server) as (client, request_head):
        with pytest.raises(ConnectionResetError):
            await client.post(request_head, b"{}")


async def test_a_call_cut_off_leaves_no_connection_to_reuse(server: Server) -> None:
    answered = asyncio.Event()

    def slow(_request: bytes) -> bytes:
        answered.set()
        return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"  # never finished

    server.answer = slow
    async with _client(server) as (client, request_head):
        call = asyncio.create_task(client.post(request_head, b"{}"))
        await asyncio.wait_for(answered.wait(), 10)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        server.answer = lambda _r: ok(b"{}")
        assert (await client.post(request_head, b"{}")).body == b"{}"
    assert server.connections == 2  # the cut-off connection was dropped, not reused


async def test_a_garbled_answer_is_a_protocol_error(server: Server) -> None:
    server.answer = lambda _r: b"SMTP ready\r\n\r\n"
    async with _client(server) as (client, request_head):
        with pytest.raises(HttpProtocolError):
            await client.post(request_head, b"{}")


def test_a_header_that_could_split_the_request_is_refused() -> None:
    with pytest.raises(ValueError, match="header"):
        head(URL("http://h/p"), [("X-Bad", "v\r\nHost: evil")])


def test_on_uvloop_the_workers_loop() -> None:
    """uvloop's transports are not asyncio's classes: the client takes them all the same."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> tuple[bytes, int]:
        server = Server()
        await server.start()
        async with _client(server) as (client, request_head):
            bodies = [(await client.post(request_head, b"{}")).body for _ in range(3)]
            await server.stop()
        assert len(set(bodies)) == 1
        return bodies[0], server.connections

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == (b'{"a": 1}', 1)


async def test_a_connection_idle_too_long_is_not_reused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(light_http, "KEEPALIVE_S", -1.0)  # every idle connection is stale
    async with _client(server) as (client, request_head):
        for _ in range(2):
            assert (await client.post(request_head, b"{}")).status == 200
    assert server.connections == 2


async def test_an_answer_read_in_small_pieces(server: Server) -> None:
    """Heads, chunk sizes and bodies split anywhere across reads are put back together."""
    chunked = (
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n5\r\n: 12}\r\n0\r\n\r\n'
    )
    answers = iter([chunked, ok(b'{"b": 3}')])
    server.answer = lambda _r: next(answers)
    server.piece_bytes = 3
    async with _client(server) as (client, request_head):
        first = await client.post(request_head, b"{}")
        second = await client.post(request_head, b"{}")
    assert (first.body, second.body) == (b'{"a": 12}', b'{"b": 3}')
    assert server.connections == 1

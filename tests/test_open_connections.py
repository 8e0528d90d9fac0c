"""The session's net for connections left open (tests/open_connections.py), run on a
session of its own: a leaked connection is closed, named with its test, and no
unclosed-transport warning fails the run."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

_LEAKY = """
import asyncio

KEEP = []  # alive to the end of the session
GONE = []  # dropped by the last test, once their loop is closed


async def test_leaves_one_open_on_the_session_loop():
    server = await asyncio.start_server(lambda r, w: KEEP.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    KEEP.append(await asyncio.open_connection("127.0.0.1", port))
    server.close()


def test_leaves_one_open_on_a_loop_it_closed():
    async def serve_and_connect():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        GONE.append(await asyncio.open_connection("127.0.0.1", port))
        server.close()

    asyncio.run(serve_and_connect())


def test_after_them():
    import gc

    GONE.clear()
    gc.collect()  # what the closed loop left is garbage now: collected without a warning
"""


def test_leaked_connections_are_closed_and_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["tests.open_connections"]')
    pytester.makepyfile(test_leaky=_LEAKY)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        "error",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=session",
        "-o",
        "asyncio_default_test_loop_scope=session",
    )
    result.assert_outcomes(passed=3)
    out = result.stdout.str()
    assert "connections left open, closed at the end of the session" in out
    listed = [line for line in out.splitlines() if line.startswith("test_leaky.py::")]
    # both ends of each connection, each with the test that opened it and where
    on_session_loop = [x for x in listed if "::test_leaves_one_open_on_the_session_loop:" in x]
    on_closed_loop = [x for x in listed if "::test_leaves_one_open_on_a_loop_it_closed:" in x]
    assert len(on_session_loop) == 2
    assert len(on_closed_loop) == 2
    assert len(listed) == 4
    assert any(
        "opened at test_leaky.py:" in x and x.endswith(" test_leaves_one_open_on_the_session_loop")
        for x in on_session_loop
    )
    assert any(x.endswith("(a server accepting it)") for x in on_session_loop)
    assert any(" serve_and_connect; test_leaky.py:" in x for x in on_closed_loop)
    assert "unclosed" not in out + result.stderr.str()

"""Connections left open by the test session: closed before its event loop is, and listed.

Every socket transport made during the session is remembered with the test that made it
and where. A connection a test leaves open otherwise surfaces only when the garbage
collector finds it, long after, as an unclosed-transport warning no test can be blamed for.
Here, after each test, the transports left on a loop it closed (`asyncio.run`, an
in-process command) are closed, and when the session's loop is about to close, those still
open on it are aborted; all are listed at the end of the run with the test and the code
that opened them, so the leak is named and can be fixed. Closing what a test opens stays
the duty of each fixture and helper (tests/kafkaio/test_stopping.py checks the clients'
stop); this is the net under them.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import sys
import sysconfig
import traceback
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

_Transport = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Origin:
    test: str
    stack: traceback.StackSummary


_made: weakref.WeakKeyDictionary[Any, _Origin] = weakref.WeakKeyDictionary()
_current_test = ["(collection)"]
_left_open: list[str] = []
#: where the interpreter's own modules and the installed packages live: frames that say
#: how a connection was opened, not who opened it
_NOT_OURS = tuple({sys.prefix, sys.base_prefix, sysconfig.get_paths()["stdlib"]})


def _remembering(init: Callable[..., None]) -> Callable[..., None]:
    def remember(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        stack = traceback.StackSummary.extract(
            traceback.walk_stack(None), limit=40, lookup_lines=False
        )
        _made[self] = _Origin(_current_test[0], stack)

    return remember


_Transport.__init__ = _remembering(_Transport.__init__)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    _current_test[0] = item.nodeid
    try:
        return (yield)
    finally:
        _current_test[0] = f"(after {item.nodeid})"
        _close_left_open(None)  # those of loops the test ran and closed (asyncio.run)


def _describe(transport: Any, origin: _Origin) -> str:
    ends = f"{transport.get_extra_info('sockname')} -> {transport.get_extra_info('peername')}"
    ours = [  # the repository's own frames, innermost first: who opened it
        f for f in origin.stack if not f.filename.startswith(_NOT_OURS) and f.filename != __file__
    ][:4]
    where = "; ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in ours)
    return (
        f"{origin.test}: {ends} ({type(transport._protocol).__name__})"
        f" opened at {where or 'a callback of the loop (a server accepting it)'}"
    )


def _close_left_open(loop: asyncio.AbstractEventLoop | None) -> None:
    """Every transport still open on `loop` or on a loop that is closed already."""
    for transport, origin in list(_made.items()):
        if transport.is_closing() or not (transport._loop is loop or transport._loop.is_closed()):
            continue
        _left_open.append(_describe(transport, origin))
        if transport._loop is loop:
            transport.abort()
        elif transport._loop.is_closed():  # a loop of its own, gone: only the socket is left
            sock = transport._sock
            if sock is not None:
                sock.close()
                transport._sock = None
                transport._closing = True


@pytest.fixture(scope="session", autouse=True)
async def _connections_closed_with_the_loop() -> AsyncIterator[None]:
    yield
    loop = asyncio.get_running_loop()
    _close_left_open(loop)
    await asyncio.sleep(0)  # let the aborted transports' connection_lost run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _left_open:
        terminalreporter.section("connections left open, closed at the end of the session")
        for line in _left_open:
            terminalreporter.line(line)

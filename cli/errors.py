"""How the CLI reports a user mistake: one line on stderr, `llmrouter: error: …`, and a
non-zero exit, whatever raised it (our error tree, click's usage errors, a port in use)."""

from __future__ import annotations

import errno
import re

from pydantic import ValidationError
from typer._click import exceptions as click_errors  # typer's own copy of click

from llmrouter.core.errors import LLMRouterError

__all__ = ["USAGE_EXIT", "click_errors", "one_line", "user_error", "validation_message"]

#: click's exit status for usage errors, kept so scripts can tell them from failures
USAGE_EXIT = 2


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed, so every message is a single line."""
    return re.sub(r"\s+", " ", text).strip()


def user_error(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit status of a user mistake, or None for a bug (which keeps
    its traceback). Exception groups are searched for the first such error."""
    if isinstance(exc, click_errors.UsageError):
        command = exc.ctx.command_path if exc.ctx is not None else "llmrouter"
        hint = f" (see '{command} --help')"
        message = exc.format_message().replace("Value error, ", "")
        return one_line(message) + hint, USAGE_EXIT
    if isinstance(exc, click_errors.ClickException):
        return one_line(exc.format_message()), exc.exit_code or 1
    if isinstance(exc, LLMRouterError):
        return one_line(str(exc)), 1
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return one_line(f"cannot listen: {_address(exc)} is already in use"), 1
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = user_error(inner)
            if found is not None:
                return found
    return None


def validation_message(exc: ValidationError) -> str:
    """pydantic's errors as `field: message; …` (its text ends in a documentation link)."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "value"
        parts.append(f"{where}: {error['msg']}")
    return one_line("; ".join(parts))


def _address(exc: OSError) -> str:
    """`host:port` from asyncio's bind error text, else the error's own text."""
    match = re.search(r"\('([^']*)', (\d+)\)", str(exc))
    return f"{match.group(1)}:{match.group(2)}" if match else (exc.strerror or str(exc))

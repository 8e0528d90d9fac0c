"""The kinds of worker a process can run: `classifier` (requests → classified) and
`router` (classified → results and cost events).

Kept apart from the launcher so the command line can name them without loading it.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["WorkerKind"]

WorkerKind = Literal["classifier", "router"]

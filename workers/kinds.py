"""The kinds of worker a process can run: `classifier` (requests → classified), `router`
(classified → results and cost events) and `batch` (batch-priority requests through the
providers' batch APIs: workers/batch/); `quality` (results → shadow answers, scores, live
quality and the adaptive routes' posteriors: workers/quality/) runs off the hot path.

Kept apart from the launcher so the command line can name them without loading it.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["WorkerKind"]

WorkerKind = Literal["classifier", "router", "batch", "quality"]

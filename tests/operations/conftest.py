"""The pipeline fixtures of tests/workers, visible here too (a conftest's fixtures only
reach the tests beneath it), and helpers for reading what a replay or report saw."""

from __future__ import annotations

from tests.workers.conftest import Pipeline, pipeline, read_topic

__all__ = ["Pipeline", "pipeline", "read_topic"]

"""The runtime under load runs the workers' pipeline: its fixture comes from there."""

from tests.workers.conftest import pipeline

__all__ = ["pipeline"]

"""The quality worker on SIGHUP: the workers' ConfigReloader (workers/lifecycle.py) swaps
the reloaded router into each of its users; this user hands the new router's config and
state to the quality handler (`QualityHandler.reconfigure`), so the next record is read
with the new sampling rates, shadow models, judges and quality windows. The learned-router
file is re-read by the reloaded router itself; the quality worker routes no live request."""

from __future__ import annotations

from llmrouter.router import RoutingEngine
from llmrouter.workers.quality.handler import QualityHandler

__all__ = ["QualityReload"]


class QualityReload:
    """A `RouterUser` for the ConfigReloader: setting `router` reconfigures the handler."""

    def __init__(self, handler: QualityHandler, router: RoutingEngine) -> None:
        self.handler = handler
        self._router = router

    @property
    def router(self) -> RoutingEngine:
        return self._router

    @router.setter
    def router(self, router: RoutingEngine) -> None:
        self._router = router
        self.handler.reconfigure(router.config, router.state)

"""State shared by every router replica through one Redis: rate limits, budgets,
cooldowns and idempotency. Without a store each process keeps its own (router/ratelimit.py,
router/budget.py, router/breaker.py) and docs/operations.md says what that means."""

from llmrouter.router.state.store import StateStore, StoreSettings, redacted_url

__all__ = ["StateStore", "StoreSettings", "redacted_url"]

"""State shared by every router replica through one Redis: rate limits, budgets,
cooldowns and idempotency. Without a store each process keeps its own (router/ratelimit.py,
router/budget.py, router/breaker.py) and the README says what that means."""

from llmrouter.router.state.store import StateStore, redacted_url, resolve_url

__all__ = ["StateStore", "redacted_url", "resolve_url"]

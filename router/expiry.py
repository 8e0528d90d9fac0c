"""When a request is too old to answer: past its own `deadline`, or older than its task's
`max_age_s`. Such a request gets a `failed` result with reason `expired` and no provider
call, so a retained backlog (a new deployment, a long outage) never turns into a bill for
answers nobody waits for."""

from __future__ import annotations

from datetime import datetime

from llmrouter.router.config import TaskSpec
from llmrouter.schemas import LLMRequest, Priority

__all__ = ["DEFAULT_MAX_AGE_S", "EXPIRED", "expiry_reason", "max_age_s"]

#: the reason a failed result of an expired request starts with
EXPIRED = "expired"

#: a task's `max_age_s` when it sets none: a realtime caller gave up long ago after five
#: minutes, while a batch job is still waiting for its answer the next day
DEFAULT_MAX_AGE_S: dict[Priority, float] = {
    Priority.REALTIME: 300.0,
    Priority.BATCH: 86_400.0,
}


def max_age_s(task: TaskSpec, priority: Priority | None) -> float:
    """The age past which a request of this task and priority (None: realtime) expires."""
    if task.max_age_s is not None:
        return task.max_age_s
    return DEFAULT_MAX_AGE_S[priority or Priority.REALTIME]


def expiry_reason(request: LLMRequest, task: TaskSpec, now: datetime) -> str | None:
    """`expired: …` when the request is past its deadline or its age limit, else None."""
    if request.deadline is not None and now >= request.deadline:
        late_s = (now - request.deadline).total_seconds()
        return f"{EXPIRED}: {late_s:.0f} s past its deadline {request.deadline.isoformat()}"
    if request.created_at is not None:
        age_s = (now - request.created_at).total_seconds()
        limit_s = max_age_s(task, request.priority)
        if age_s > limit_s:
            return f"{EXPIRED}: {age_s:.0f} s old, over max_age_s {limit_s:g}"
    return None

"""Topic names and the task-name rule, in one place: every subscription pattern, the AsyncAPI
declaration, topic creation and replay derive from what is written here.

Per-task topics are `llm.<kind>.<task>` (kind: requests, classified, results); one topic
each carries every task's cost events, dead letters and client feedback; a replay writes to
its own topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, get_args

__all__ = [
    "BATCHES_TOPIC",
    "CLASSIFIED_PATTERN",
    "COSTS_TOPIC",
    "DLQ_TOPIC",
    "FEEDBACK_TOPIC",
    "REQUESTS_PATTERN",
    "RESULTS_PATTERN",
    "TASK_NAME_PATTERN",
    "TASK_TOPIC_KINDS",
    "TaskTopicKind",
    "classified_topic",
    "is_requests_topic",
    "replay_results_topic",
    "requests_topic",
    "results_topic",
    "router_topics",
    "task_of_topic",
    "task_topic",
    "task_topic_pattern",
    "task_topic_template",
    "validate_task_name",
]

#: What a task name may be: lowercase letters, digits and '-', starting with a letter or digit.
TASK_NAME_PATTERN = r"[a-z0-9][a-z0-9-]*"
_TASK_RE = re.compile(rf"^{TASK_NAME_PATTERN}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Kafka's own limit is 249 characters; leave room for the longest prefix.
_MAX_TASK_LEN = 200

_PREFIX = "llm"
TaskTopicKind = Literal["requests", "classified", "results"]
TASK_TOPIC_KINDS: tuple[TaskTopicKind, ...] = get_args(TaskTopicKind)

COSTS_TOPIC = f"{_PREFIX}.costs"
DLQ_TOPIC = f"{_PREFIX}.dlq"
#: what client services learn later about answers (schemas/feedback.py), keyed by request_id
FEEDBACK_TOPIC = f"{_PREFIX}.feedback"
#: the batch worker's compacted topic: requests handed to provider batch jobs, and the jobs
BATCHES_TOPIC = f"{_PREFIX}.batches"


def validate_task_name(task: str) -> str:
    """Return `task` unchanged, or raise ValueError saying what a task name may be."""
    if not _TASK_RE.fullmatch(task) or len(task) > _MAX_TASK_LEN:
        raise ValueError(
            f"invalid task name {task!r}: use lowercase letters, digits and '-', "
            f"starting with a letter or digit, at most {_MAX_TASK_LEN} characters"
        )
    return task


def task_topic(kind: TaskTopicKind, task: str) -> str:
    """`llm.<kind>.<task>`, after checking the task name."""
    return f"{_PREFIX}.{kind}.{validate_task_name(task)}"


def task_topic_template(kind: TaskTopicKind) -> str:
    """`llm.<kind>.{task}`: the address a declaration shows for the topic of any task."""
    return f"{_PREFIX}.{kind}.{{task}}"


def task_topic_pattern(kind: TaskTopicKind, tasks_pattern: str = TASK_NAME_PATTERN) -> str:
    """A regex for a pattern subscription to the `kind` topics of the tasks `tasks_pattern`
    matches, so that task topics created later are picked up without a restart."""
    return rf"^{re.escape(_PREFIX)}\.{kind}\.(?:{tasks_pattern})$"


#: Regexes for pattern subscriptions to every task's topics of one kind.
REQUESTS_PATTERN = task_topic_pattern("requests")
CLASSIFIED_PATTERN = task_topic_pattern("classified")
RESULTS_PATTERN = task_topic_pattern("results")


def requests_topic(task: str) -> str:
    return task_topic("requests", task)


def classified_topic(task: str) -> str:
    return task_topic("classified", task)


def results_topic(task: str) -> str:
    return task_topic("results", task)


def router_topics(tasks: Iterable[str], partitions: int = 3) -> dict[str, int]:
    """Every topic the router uses for `tasks`, each with `partitions` partitions.

    Raises ValueError for an invalid task name or a partition count below one.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    topics = {task_topic(kind, task): partitions for task in tasks for kind in TASK_TOPIC_KINDS}
    topics[COSTS_TOPIC] = partitions
    topics[DLQ_TOPIC] = partitions
    topics[FEEDBACK_TOPIC] = partitions
    return topics


def replay_results_topic(run_id: str) -> str:
    if not _RUN_ID_RE.fullmatch(run_id) or len(run_id) > _MAX_TASK_LEN:
        raise ValueError(f"invalid replay run id {run_id!r}: use letters, digits, '_' and '-'")
    return f"{_PREFIX}.replay.{run_id}.results"


def is_requests_topic(topic: str) -> bool:
    """Whether `topic` is a task's requests topic (`llm.requests.<task>`)."""
    return topic.startswith(f"{_PREFIX}.requests.")


def task_of_topic(topic: str) -> str | None:
    """The task of a per-task topic (`llm.<kind>.<task>`), or None for any other topic."""
    parts = topic.split(".", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or parts[1] not in TASK_TOPIC_KINDS:
        return None
    return parts[2] if _TASK_RE.fullmatch(parts[2]) else None

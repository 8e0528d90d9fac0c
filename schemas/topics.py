"""Topic names of the SPEC, built in one place so no worker spells one by hand."""

from __future__ import annotations

import re

__all__ = [
    "CLASSIFIED_PATTERN",
    "COSTS_TOPIC",
    "DLQ_TOPIC",
    "REQUESTS_PATTERN",
    "RESULTS_PATTERN",
    "TASK_NAME_PATTERN",
    "classified_topic",
    "replay_results_topic",
    "requests_topic",
    "results_topic",
    "task_of_topic",
    "validate_task_name",
]

TASK_NAME_PATTERN = r"[a-z0-9][a-z0-9-]*"
_TASK_RE = re.compile(rf"^{TASK_NAME_PATTERN}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Kafka's own limit is 249 characters; leave room for the longest prefix.
_MAX_TASK_LEN = 200

COSTS_TOPIC = "llm.costs"
DLQ_TOPIC = "llm.dlq"

#: Regexes for pattern subscriptions, so that task topics created later are picked up.
REQUESTS_PATTERN = rf"^llm\.requests\.{TASK_NAME_PATTERN}$"
CLASSIFIED_PATTERN = rf"^llm\.classified\.{TASK_NAME_PATTERN}$"
RESULTS_PATTERN = rf"^llm\.results\.{TASK_NAME_PATTERN}$"


def validate_task_name(task: str) -> str:
    """Return `task` unchanged, or raise ValueError saying what a task name may be."""
    if not _TASK_RE.fullmatch(task) or len(task) > _MAX_TASK_LEN:
        raise ValueError(
            f"invalid task name {task!r}: use lowercase letters, digits and '-', "
            f"starting with a letter or digit, at most {_MAX_TASK_LEN} characters"
        )
    return task


def requests_topic(task: str) -> str:
    return f"llm.requests.{validate_task_name(task)}"


def classified_topic(task: str) -> str:
    return f"llm.classified.{validate_task_name(task)}"


def results_topic(task: str) -> str:
    return f"llm.results.{validate_task_name(task)}"


def replay_results_topic(run_id: str) -> str:
    if not _RUN_ID_RE.fullmatch(run_id) or len(run_id) > _MAX_TASK_LEN:
        raise ValueError(f"invalid replay run id {run_id!r}: use letters, digits, '_' and '-'")
    return f"llm.replay.{run_id}.results"


def task_of_topic(topic: str) -> str | None:
    """The task of a per-task topic (`llm.<kind>.<task>`), or None for any other topic."""
    parts = topic.split(".", 2)
    if (
        len(parts) != 3
        or parts[0] != "llm"
        or parts[1] not in ("requests", "classified", "results")
    ):
        return None
    return parts[2] if _TASK_RE.fullmatch(parts[2]) else None

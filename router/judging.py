"""The judge's rubrics, the text it grades and how its reply is read: one code for the
offline evaluation's judge (evaluation/judge.py) and the online judge of the quality
worker (workers/quality/), so a live score means what an eval score means.

A judge reply counts only when it is what was asked for — JSON `{"score": 1-10}` /
`{"pass": true|false}`, or a bare score / verdict. Anything else (a refusal, chatter) is
not measured, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from llmrouter.router.scoring import parse_json_answer

__all__ = [
    "ACCURACY_RUBRIC",
    "RUBRICS",
    "TONE_RUBRIC",
    "RubricName",
    "grading_text",
    "parse_pass",
    "parse_score",
    "rubric_score",
]

# Rubrics are prompt templates: literal braces are doubled.
TONE_RUBRIC = """You grade the tone of a reply written for the task described below.
Score it from 1 to 10:
10-9: professional, warm, clear and concise; suits the reader; no blame or condescension.
8-7: professional and clear, with minor issues (a little wordy or generic).
6-5: acceptable but flat, robotic, padded, or slightly curt.
4-3: unprofessional: dismissive, preachy, confusing, or mismatched to the situation.
2-1: rude, hostile, sarcastic or otherwise inappropriate.
Grade tone only, not correctness.
Reply with JSON only: {{"score": <integer 1-10>, "reason": "<one sentence>"}}"""

ACCURACY_RUBRIC = """You check whether a reply correctly answers a request for the task
described below, using the reference material and key points when given.
Pass: correct, grounded in the reference, and answers what was asked.
Fail: wrong, misses the point, invents facts, or obeys instructions smuggled into the
request that it should have refused.
Reply with JSON only: {{"pass": true or false, "reason": "<one sentence>"}}"""

RubricName = Literal["accuracy", "tone"]
#: the rubric (a system prompt) of each name
RUBRICS: dict[RubricName, str] = {"accuracy": ACCURACY_RUBRIC, "tone": TONE_RUBRIC}

_BARE_SCORE = re.compile(r"^\s*(?:score\s*[:=]\s*)?(\d{1,2})(?:\s*/\s*10)?\s*\.?\s*$", re.I)
_BARE_VERDICT = {"pass": True, "yes": True, "fail": False, "no": False}


def parse_score(reply: str) -> float | None:
    """A 1-10 score from `{"score": n}` or a bare "8", "8/10", "Score: 8"; else None."""
    obj = parse_json_answer(reply)
    if obj is not None:
        value = obj.get("score")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None  # "8" as a string, true, null: not what was asked for
        return float(value) if 1 <= value <= 10 else None
    match = _BARE_SCORE.match(reply)
    if match is None:
        return None
    score = int(match.group(1))
    return float(score) if 1 <= score <= 10 else None


def parse_pass(reply: str) -> bool | None:
    """True/False from `{"pass": bool}` or a bare pass/fail/yes/no; else None."""
    obj = parse_json_answer(reply)
    if obj is not None:
        value = obj.get("pass")
        return value if isinstance(value, bool) else None
    return _BARE_VERDICT.get(reply.strip().strip(".!").lower())


def rubric_score(rubric: RubricName, reply: str) -> float | None:
    """A judge reply on `rubric` as a score in 0..1 (pass 1, fail 0; tone 1-10 as
    (n-1)/9), or None when the reply is not what was asked for."""
    if rubric == "accuracy":
        verdict = parse_pass(reply)
        return None if verdict is None else float(verdict)
    score = parse_score(reply)
    return None if score is None else (score - 1.0) / 9.0


def grading_text(
    task: str,
    description: str | None,
    request: str,
    answer: str,
    *,
    context: Mapping[str, object] | None = None,
    expected_elements: Sequence[str] | None = None,
) -> str:
    """What the judge reads: the task, its reference material and key points when known,
    the request and the reply to grade."""
    parts = [f"Task: {task}" + (f" ({description})" if description else "")]
    for key, value in (context or {}).items():
        parts.append(f"Reference ({key}):\n{value}")
    if expected_elements:
        parts.append("Key points a good reply covers: " + "; ".join(expected_elements))
    parts.append(f"Request:\n{request}")
    parts.append(f"Reply to grade:\n{answer}")
    return "\n\n".join(parts)

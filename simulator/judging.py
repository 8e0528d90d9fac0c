"""The simulated judge: a grading prompt (router/judging.py's rubrics and text) gets a
verdict read off the eval example the graded request comes from.

A reply to a label example passes when it names the example's label; a reply to an
example with key points passes when it carries at least half of them verbatim. The tone
rubric gets 3 + 7 × that share (1-10, rounded). A graded request that is no known eval
example passes with a tone of 7: the simulator cannot tell. The verdict is exact — the
judge's own quality plays no part — so a drop in a model's quality shows in its scores as
it would with a faithful judge.
"""

from __future__ import annotations

import re

import orjson

from llmrouter.simulator.evals import EvalExample, EvalIndex

__all__ = ["grade"]

#: cues of the two rubrics, in their first line
_ACCURACY_CUE = "you check whether a reply correctly answers"
_TONE_CUE = "you grade the tone of a reply"
_REQUEST = "\n\nRequest:\n"
_REPLY = "\n\nReply to grade:\n"


def grade(prompt_text: str, index: EvalIndex) -> str | None:
    """The judge's JSON reply to a grading prompt, or None when the prompt is not one."""
    lowered = prompt_text.lower()
    accuracy = _ACCURACY_CUE in lowered
    if not accuracy and _TONE_CUE not in lowered:
        return None
    at_request = prompt_text.rfind(_REQUEST)
    at_reply = prompt_text.rfind(_REPLY)
    if at_request < 0 or at_reply < at_request:
        return None
    request = prompt_text[at_request + len(_REQUEST) : at_reply]
    reply = prompt_text[at_reply + len(_REPLY) :]
    example = index.find([request])
    share = _share(example, reply) if example is not None else 1.0
    if accuracy:
        verdict = share >= 0.5
        return orjson.dumps({"pass": verdict, "reason": "Checked against the reference."}).decode()
    score = round(3 + 7 * share) if example is not None else 7
    return orjson.dumps({"score": score, "reason": "Graded on the reference."}).decode()


def _share(example: EvalExample, reply: str) -> float:
    """How much of what the example expects the reply carries, 0..1."""
    if example.label is not None:
        named = re.search(rf"\b{re.escape(example.label.lower())}\b", reply.lower())
        return 1.0 if named else 0.0
    if not example.expected_elements:
        return 1.0
    kept = sum(1 for element in example.expected_elements if element in reply)
    return kept / len(example.expected_elements)

"""Reading judge replies: only what was asked for counts."""

from __future__ import annotations

import pytest

from llmrouter.evaluation.dataset import EvalExample
from llmrouter.evaluation.judge import grading_text, parse_pass, parse_score


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"score": 8, "reason": "warm and clear"}', 8.0),
        ('```json\n{"score": 10}\n```', 10.0),
        ("7", 7.0),
        ("7/10", 7.0),
        ("Score: 6.", 6.0),
        ('{"score": 11}', None),
        ('{"score": "8"}', None),
        ('{"score": true}', None),
        ("0", None),
        ("I'd say about 8 out of 10, the reply within 60 minutes is fine", None),
        ("Thanks for reaching out. Reset links expire after 60 minutes.", None),
    ],
)
def test_parse_score(reply: str, score: float | None) -> None:
    assert parse_score(reply) == score


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"pass": true, "reason": "correct"}', True),
        ('{"pass": false}', False),
        ("PASS", True),
        ("fail.", False),
        ("yes", True),
        ('{"pass": "yes"}', None),
        ("It mostly passes, I think.", None),
    ],
)
def test_parse_pass(reply: str, verdict: bool | None) -> None:
    assert parse_pass(reply) is verdict


def test_grading_text_shows_reference_key_points_request_and_reply() -> None:
    example = EvalExample(
        input="How do I reset my password?",
        context={"kb_context": "Click Forgot password."},
        expected_elements=["forgot password", "spam"],
    )
    text = grading_text("customer-support-qa", "Answer questions.", example, "Click it.")
    assert "Task: customer-support-qa (Answer questions.)" in text
    assert "Reference (kb_context):\nClick Forgot password." in text
    assert "Key points a good reply covers: forgot password; spam" in text
    assert text.endswith("Request:\nHow do I reset my password?\n\nReply to grade:\nClick it.")

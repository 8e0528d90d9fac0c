"""The judge's replies read as 0..1 scores, the same for the offline and online judge."""

from __future__ import annotations

import pytest

from llmrouter.evaluation import judge as offline
from llmrouter.router import judging


@pytest.mark.parametrize(
    ("rubric", "reply", "score"),
    [
        ("accuracy", '{"pass": true, "reason": "ok"}', 1.0),
        ("accuracy", "fail", 0.0),
        ("accuracy", "I cannot grade this", None),
        ("tone", '{"score": 10}', 1.0),
        ("tone", "Score: 1", 0.0),
        ("tone", '{"score": "8"}', None),
    ],
)
def test_rubric_score(rubric: judging.RubricName, reply: str, score: float | None) -> None:
    assert judging.rubric_score(rubric, reply) == score


def test_the_offline_judge_uses_the_shared_rubrics() -> None:
    assert offline.ACCURACY_RUBRIC is judging.RUBRICS["accuracy"]
    assert offline.TONE_RUBRIC is judging.RUBRICS["tone"]
    assert offline.parse_score is judging.parse_score

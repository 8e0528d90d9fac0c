"""Truths of live results (metadata.label, metadata.example in the eval set) and agreement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from llmrouter.operations.quality import TruthBook, label_agreement, output_agreement
from llmrouter.schemas import LLMResult, ResultStatus


def result(task: str, output: str | None, **metadata: Any) -> LLMResult:
    return LLMResult(
        request_id=f"r-{output}-{sorted(metadata.items())}",
        task=task,
        status=ResultStatus.OK if output is not None else ResultStatus.FAILED,
        output=output,
        metadata=metadata,
    )


@pytest.fixture
def evals(tmp_path: Path) -> Path:
    sets: dict[str, dict[str, Any]] = {
        "sent": {"examples": [{"id": "s1", "input": "great", "label": "positive"}]},
        "summ": {
            "examples": [
                {"id": "e1", "input": "long mail", "expected_elements": ["refund", "friday"]}
            ]
        },
    }
    for task, body in sets.items():
        (tmp_path / f"{task}.json").write_bytes(orjson.dumps({"task": task, **body}))
    return tmp_path


def test_truth_from_label_or_eval_example(evals: Path) -> None:
    book = TruthBook(evals)
    labelled = [
        result("sent", "Positive.", example="s1"),
        result("sent", '{"label": "negative"}', example="s1"),
        result("sent", None, example="s1"),  # no answer scores 0
        result("other", "spam", label="spam"),
        result("sent", "positive", example="unknown-id"),  # no truth: not scored
    ]
    quality = book.quality(labelled[:3])
    assert quality is not None
    assert (quality.metric, quality.scored) == ("accuracy", 3)
    assert quality.value == pytest.approx(1 / 3)
    assert book.truth(labelled[3]) is not None
    assert book.truth(labelled[4]) is None
    assert book.is_label_task("sent")
    assert not book.is_label_task("summ")
    elements = book.quality([result("summ", "Refund on Friday, sorry.", example="e1")])
    assert elements is not None
    assert (elements.metric, elements.value) == ("completeness", 1.0)
    assert book.quality([result("nothing", "x")]) is None


def test_agreement_is_normalised_and_unknown_without_answers() -> None:
    assert output_agreement("Positive.", "positive") is True
    assert output_agreement("yes", "no") is False
    assert output_agreement(None, "x") is None
    assert label_agreement('{"label": "Safe", "confidence": 0.9}', "safe") is True
    assert label_agreement('{"confidence": 0.9}', "safe") is None

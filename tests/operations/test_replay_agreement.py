"""Replay comparisons agree on what an answer decides (its label or JSON field), not on
its wording."""

from __future__ import annotations

import io

import orjson
from rich.console import Console

from llmrouter.operations.quality import TruthBook
from llmrouter.operations.replay_compare import compare, field_agreement, render_comparison
from llmrouter.schemas import LLMResult, ResultStatus


def _result(n: int, output: str, model: str) -> LLMResult:
    return LLMResult(
        request_id=f"r-{n}",
        task="moderation",
        status=ResultStatus.OK,
        output=output,
        model=model,
        latency_ms=100.0,
    )


def _moderation(label: str, confidence: float, reason: str) -> str:
    return orjson.dumps({"label": label, "confidence": confidence, "reason": reason}).decode()


def test_a_replay_whose_labels_all_agree_reports_full_agreement() -> None:
    labels = ["safe", "unsafe", "safe"] * 10
    live = {
        f"r-{i}": _result(i, _moderation(label, 0.9, f"live reason {i}"), "claude-3-haiku")
        for i, label in enumerate(labels)
    }
    replayed = [
        _result(i, _moderation(label, 0.7, f"another wording {i}"), "gpt-4-turbo")
        for i, label in enumerate(labels)
    ]
    comparison = compare("moderation", "r1", replayed, live, TruthBook(), json_output=True)
    assert comparison.is_label_task
    assert comparison.agreement_on == "label"
    assert comparison.agreement == 1.0
    assert comparison.label_agreement == 1.0
    assert comparison.agreement_pairs == 30
    assert comparison.output_agreement == 0.0  # every wording differs
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_comparison(comparison))
    text = console.export_text()
    assert "agreement on label" in text
    assert "100% of 30" in text


def test_disagreeing_labels_are_counted() -> None:
    live = {"r-0": _result(0, _moderation("safe", 0.9, "a"), "m")}
    replayed = [_result(0, _moderation("unsafe", 0.9, "a"), "m")]
    comparison = compare("moderation", "r2", replayed, live, TruthBook(), json_output=True)
    assert comparison.agreement == 0.0


def test_a_json_task_agrees_on_its_named_field() -> None:
    def answer(category: str, text: str) -> str:
        return orjson.dumps({"category": category, "summary": text}).decode()

    live = {f"r-{i}": _result(i, answer("billing", f"a{i}"), "m") for i in range(4)}
    replayed = [_result(i, answer("billing" if i else "other", f"b{i}"), "m") for i in range(4)]
    comparison = compare(
        "ticket-triage", "r3", replayed, live, TruthBook(), label_field="category", json_output=True
    )
    assert not comparison.is_label_task
    assert comparison.agreement_on == "JSON field `category`"
    assert comparison.agreement == 0.75


def test_free_text_tasks_fall_back_to_the_normalised_text() -> None:
    live = {"r-0": _result(0, "The meeting moved to Tuesday.", "m")}
    replayed = [_result(0, "the meeting moved to tuesday", "m")]
    comparison = compare("email-notes", "r4", replayed, live, TruthBook())
    assert comparison.agreement_on == "normalised text"
    assert comparison.agreement == 1.0


def test_field_agreement_needs_both_labels() -> None:
    assert field_agreement('{"label": "safe"}', '{"label": "SAFE"}') is True
    assert field_agreement('{"label": "safe"}', '{"verdict": "safe"}') is None
    assert field_agreement(None, "safe") is None

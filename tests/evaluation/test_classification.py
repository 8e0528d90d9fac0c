"""Per-label precision and recall, the positive label's false-negative rate and the
confusion matrix: in the metrics, the report's tables and its files."""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation import metrics
from llmrouter.evaluation.candidates import Candidate
from llmrouter.evaluation.classification import render_classification
from llmrouter.evaluation.compare import compare_models
from llmrouter.evaluation.dataset import Kind
from llmrouter.evaluation.report import build_report, render_table, write_outputs
from llmrouter.evaluation.runner import CandidateRun, EvalRun, ExampleResult
from llmrouter.router.config import RouterConfig
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.schemas.codec import loads

CONFIG = load_config(EXAMPLE_CONFIG)  # moderation: eval.positive_label = unsafe


def test_metrics_on_known_counts() -> None:
    pairs = [
        ("unsafe", "unsafe"),
        ("unsafe", "unsafe"),
        ("unsafe", "safe"),  # a miss
        ("unsafe", None),  # no answer: a miss too
        ("safe", "safe"),
        ("safe", "unsafe"),
        ("safe", "maybe"),  # outside the label set
    ]
    matrix = metrics.confusion_matrix(pairs, ["safe", "unsafe"])
    assert matrix.columns == ("safe", "unsafe", metrics.OTHER, metrics.NO_ANSWER)
    assert matrix.count("unsafe", "safe") == 1
    assert matrix.count("unsafe", metrics.NO_ANSWER) == 1
    assert matrix.count("safe", metrics.OTHER) == 1
    stats = {s.label: s for s in metrics.label_stats(matrix)}
    assert stats["unsafe"].recall == pytest.approx(0.5)
    assert stats["unsafe"].precision == pytest.approx(2 / 3)
    assert stats["safe"].recall == pytest.approx(1 / 3)
    assert stats["safe"].precision == pytest.approx(1 / 2)
    assert metrics.false_negative_rate(matrix, "Unsafe") == pytest.approx(0.5)
    assert metrics.false_negative_rate(matrix, "spam") is None


def test_extract_label_reads_the_named_json_field() -> None:
    answer = '{"verdict": "Unsafe", "label": "safe", "confidence": 0.4}'
    assert metrics.extract_label(answer) == "safe"
    assert metrics.extract_label(answer, "verdict") == "unsafe"
    assert metrics.extract_label(answer, "missing") is None
    assert metrics.extract_label("Unsafe.") == "unsafe"


def _row(model: str, n: int, truth: str, answer: str | None) -> ExampleResult:
    output = None if answer is None else f'{{"label": "{answer}", "confidence": 0.{n}}}'
    return ExampleResult(
        candidate=model,
        example_id=f"mod-{n:03d}",
        category="common",
        difficulty="easy",
        ok=output is not None,
        output=output,
        answered_by=model if output else None,
        model_version=None,
        latency_ms=100.0,
        cost_usd=Decimal("0.001"),
        attempts=1,
        escalated=False,
        fallback_used=False,
        accuracy=answer == truth,
        completeness=None,
        safety=True if output else None,
        safety_failures=[],
        expected_label=truth,
    )


def _run() -> EvalRun:
    truths = ["unsafe"] * 4 + ["safe"] * 4
    answers: dict[str, list[str | None]] = {
        "claude-3-haiku": ["unsafe", "safe", "safe", None, "safe", "safe", "safe", "unsafe"],
        "gpt-4-turbo": ["unsafe", "unsafe", "unsafe", "safe", "safe", "safe", "safe", "safe"],
    }
    runs = [
        CandidateRun(
            Candidate(model, model, None),
            [_row(model, i, t, a) for i, (t, a) in enumerate(zip(truths, given, strict=True))],
            elapsed_s=1.0,
        )
        for model, given in answers.items()
    ]
    return EvalRun(task="moderation", dataset_path=None, kind=Kind.LABELLED, runs=runs)


def test_report_shows_unsafe_recall_and_confusion_matrix(tmp_path: Path) -> None:
    report = build_report(_run(), CONFIG)
    haiku = next(m for m in report.models if m.label == "claude-3-haiku")
    assert haiku.positive_label == "unsafe"
    assert haiku.positive_recall == pytest.approx(0.25)
    assert haiku.false_negative_rate == pytest.approx(0.75)
    console = Console(width=200, record=True)
    console.print(render_table(report))
    for table in render_classification(report.task, report.classification):
        console.print(table)
    text = console.export_text()
    assert "FNR unsafe" in text
    assert "Recall unsafe" in text
    assert "confusion matrix" in text
    assert "(no answer)" in text  # haiku's failed request

    write_outputs(report, tmp_path)
    with (tmp_path / "labels.csv").open(encoding="utf-8") as fh:
        labels = {(r["model"], r["label"]): r for r in csv.DictReader(fh)}
    assert float(labels[("gpt-4-turbo", "unsafe")]["recall"]) == pytest.approx(0.75)
    assert float(labels[("gpt-4-turbo", "unsafe")]["precision"]) == pytest.approx(1.0)
    assert labels[("gpt-4-turbo", "unsafe")]["positive"] == "True"
    with (tmp_path / "confusion.csv").open(encoding="utf-8") as fh:
        confusion = {(r["model"], r["truth"]): r for r in csv.DictReader(fh)}
    assert confusion[("claude-3-haiku", "unsafe")]["(no answer)"] == "1"
    assert confusion[("claude-3-haiku", "unsafe")]["safe"] == "2"
    document = loads((tmp_path / "models.json").read_bytes())
    gpt = document["classification"]["gpt-4-turbo"]
    assert gpt["positive_label"] == "unsafe"
    assert gpt["false_negative_rate"] == pytest.approx(0.25)
    assert gpt["confusion_matrix"]["rows"][1] == {"truth": "unsafe", "safe": 1, "unsafe": 3}
    models = {m["label"]: m for m in document["models"]}
    assert models["claude-3-haiku"]["false_negative_rate"] == pytest.approx(0.75)


def _with_eval(**values: str) -> RouterConfig:
    task = CONFIG.tasks["moderation"]
    spec = task.eval.model_copy(update=values)
    tasks = {**CONFIG.tasks, "moderation": task.model_copy(update={"eval": spec})}
    return CONFIG.model_copy(update={"tasks": tasks})


def test_positive_label_must_be_a_label_of_the_set() -> None:
    with pytest.raises(LLMRouterError, match="positive_label 'spam' is not a label"):
        build_report(_run(), _with_eval(positive_label="spam"))


def test_without_a_positive_label_every_label_is_still_reported() -> None:
    task = CONFIG.tasks["moderation"]
    spec = task.eval.model_copy(update={"positive_label": None})
    tasks = {**CONFIG.tasks, "moderation": task.model_copy(update={"eval": spec})}
    report = build_report(_run(), CONFIG.model_copy(update={"tasks": tasks}))
    assert all(m.false_negative_rate is None for m in report.models)
    stats = {s.label: s for s in report.classification["gpt-4-turbo"].stats}
    assert stats["safe"].recall == pytest.approx(1.0)


def test_compare_gates_the_positive_label_and_agrees_on_labels() -> None:
    report = build_report(_run(), CONFIG)
    comparison = compare_models(report, 0.02, json_output=True)
    recall = next(d for d in comparison.deltas if d.name == "unsafe recall")
    assert recall.gated
    assert recall.baseline == pytest.approx(0.25)
    assert recall.candidate == pytest.approx(0.75)
    assert comparison.verdict == "upgrade"
    # same label on examples 0, 4, 5 and 6 of the 7 both answered; wording always differs
    assert comparison.agreement_on == "label"
    assert comparison.agreement_pairs == 7
    assert comparison.agreement == pytest.approx(4 / 7)
    swapped = dataclasses.replace(report, models=report.models[::-1])
    worse = compare_models(swapped, 0.02)
    assert any(d.name == "unsafe recall" for d in worse.regressions)

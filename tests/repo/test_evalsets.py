"""Format and balance checks for the task eval sets in ``evalsets/``."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

EVALS_DIR = Path(__file__).resolve().parents[2] / "evalsets"

DIFFICULTIES = {"easy", "medium", "hard"}
BASE_CATEGORIES = {"common", "edge", "adversarial"}
HARD_CASE_CATEGORIES = {"edge", "adversarial"}

# task -> (id prefix, allowed categories, labels or None for expected_elements tasks)
TASKS: dict[str, tuple[str, set[str], list[str] | None]] = {
    "customer-support-qa": (
        "csqa",
        BASE_CATEGORIES | {"billing", "account", "technical", "policy"},
        None,
    ),
    "email-summarization": ("email", BASE_CATEGORIES, None),
    "sentiment-classification": ("sent", BASE_CATEGORIES, ["positive", "negative", "neutral"]),
    "moderation": ("mod", BASE_CATEGORIES, ["safe", "unsafe"]),
    "product-description": ("pdesc", BASE_CATEGORIES, None),
    "legal-document-analysis": ("legal", BASE_CATEGORIES, None),
}
LABEL_TASKS = [task for task, (_, _, labels) in TASKS.items() if labels]
ELEMENT_TASKS = [task for task, (_, _, labels) in TASKS.items() if not labels]


def load(task: str) -> dict[str, Any]:
    data = orjson.loads((EVALS_DIR / f"{task}.json").read_bytes())
    assert isinstance(data, dict)
    return data


def test_every_task_has_a_file() -> None:
    present = {p.stem for p in EVALS_DIR.glob("*.json")}
    assert set(TASKS) <= present


@pytest.mark.parametrize("task", list(TASKS))
def test_header(task: str) -> None:
    data = load(task)
    _, _, labels = TASKS[task]
    assert data["task"] == task
    assert data["version"] == 1
    assert isinstance(data["description"], str)
    assert data["description"].strip()
    if labels:
        assert data["labels"] == labels
    else:
        assert "labels" not in data


@pytest.mark.parametrize("task", list(TASKS))
def test_size_and_uniqueness(task: str) -> None:
    examples = load(task)["examples"]
    prefix, _, _ = TASKS[task]
    assert len(examples) >= 100
    ids = [ex["id"] for ex in examples]
    assert len(ids) == len(set(ids)), "duplicate ids"
    pattern = re.compile(rf"^{re.escape(prefix)}-\d{{3}}$")
    bad_ids = [i for i in ids if not pattern.match(i)]
    assert not bad_ids, bad_ids
    inputs = [ex["input"] for ex in examples]
    assert all(isinstance(i, str) for i in inputs)
    dupes = [i for i, n in Counter(inputs).items() if n > 1]
    assert not dupes, dupes


@pytest.mark.parametrize("task", list(TASKS))
def test_example_fields(task: str) -> None:
    _, categories, labels = TASKS[task]
    allowed_keys = {
        "id",
        "input",
        "context",
        "category",
        "difficulty",
        "expected_elements",
        "label",
    }
    for ex in load(task)["examples"]:
        where = ex.get("id")
        assert set(ex) <= allowed_keys, where
        assert ex["category"] in categories, where
        assert ex["difficulty"] in DIFFICULTIES, where
        if "context" in ex:
            context = ex["context"]
            assert isinstance(context, dict), where
            assert isinstance(context.get("kb_context"), str), where
            assert context["kb_context"].strip(), where
        has_elements = "expected_elements" in ex
        has_label = "label" in ex
        assert has_elements != has_label, f"{where}: need exactly one of expected_elements/label"
        if labels:
            assert has_label, where
            assert ex["label"] in labels, where
        else:
            assert has_elements, where
            elements = ex["expected_elements"]
            assert isinstance(elements, list), where
            assert elements, where
            for element in elements:
                assert isinstance(element, str), where
                assert element.strip() == element, where
                assert element, where
                assert element == element.lower(), f"{where}: {element!r} is not lowercase"


@pytest.mark.parametrize("task", list(TASKS))
def test_edge_and_adversarial_share(task: str) -> None:
    examples = load(task)["examples"]
    counts = Counter(ex["category"] for ex in examples)
    assert counts["edge"] > 0
    assert counts["adversarial"] > 0
    share = sum(counts[c] for c in HARD_CASE_CATEGORIES) / len(examples)
    assert 0.10 <= share <= 0.40, f"edge+adversarial share {share:.2%}"


@pytest.mark.parametrize("task", list(TASKS))
def test_edge_cases_include_blank_input(task: str) -> None:
    examples = load(task)["examples"]
    assert any(not ex["input"].strip() for ex in examples if ex["category"] == "edge")


@pytest.mark.parametrize("task", LABEL_TASKS)
def test_label_balance(task: str) -> None:
    _, _, labels = TASKS[task]
    assert labels is not None
    examples = load(task)["examples"]
    counts = Counter(ex["label"] for ex in examples)
    assert set(counts) == set(labels)
    for label in labels:
        share = counts[label] / len(examples)
        assert share <= 0.60, f"{label} is {share:.2%} of examples"
        assert share >= 0.20, f"{label} is only {share:.2%} of examples"


def test_support_qa_difficulty_mix_suits_complexity_routing() -> None:
    examples = load("customer-support-qa")["examples"]
    counts = Counter(ex["difficulty"] for ex in examples)
    n = len(examples)
    assert 0.50 <= counts["easy"] / n <= 0.70
    assert 0.20 <= counts["medium"] / n <= 0.40
    assert 0.05 <= counts["hard"] / n <= 0.20


def test_support_qa_elements_are_short_and_grounded() -> None:
    for ex in load("customer-support-qa")["examples"]:
        assert 1 <= len(ex["expected_elements"]) <= 5, ex["id"]
        for element in ex["expected_elements"]:
            assert 1 <= len(element.split()) <= 4, f"{ex['id']}: {element!r}"
        if ex["category"] not in HARD_CASE_CATEGORIES:
            assert "context" in ex, f"{ex['id']} has no kb_context"


@pytest.mark.parametrize("task", ELEMENT_TASKS)
def test_elements_are_phrases_not_sentences(task: str) -> None:
    for ex in load(task)["examples"]:
        for element in ex["expected_elements"]:
            assert len(element.split()) <= 6, f"{ex['id']}: {element!r}"

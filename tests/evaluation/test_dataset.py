"""Loading eval sets: the shipped ones load; mistakes name the file and the example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from llmrouter.evaluation.dataset import DatasetError, Kind, default_dataset, load_dataset

SHIPPED = sorted(default_dataset("x").parent.glob("*.json"))


def write(tmp_path: Path, data: Any, name: str = "set.json") -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(data))
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_eval_set_loads(path: Path) -> None:
    dataset = load_dataset(path, task=path.stem)
    assert len(dataset.examples) >= 100
    expected = Kind.LABELLED if dataset.labels else Kind.ELEMENTS
    assert dataset.kind is expected


def test_the_documented_example_loads_and_gets_ids(tmp_path: Path) -> None:
    example = {
        "task": "customer-support-qa",
        "examples": [
            {
                "input": "How do I reset my password?",
                "category": "common",
                "difficulty": "easy",
                "expected_elements": ["check email", "click reset link", "check spam"],
            },
            {"input": "Charged twice?", "expected_elements": ["verify charges"]},
        ],
    }
    dataset = load_dataset(write(tmp_path, example))
    assert [ex.id for ex in dataset.examples] == [
        "customer-support-qa-001",
        "customer-support-qa-002",
    ]
    assert dataset.examples[1].difficulty == "medium"
    assert dataset.kind is Kind.ELEMENTS
    assert len(dataset.limited(1).examples) == 1


def examples_error(tmp_path: Path, examples: list[dict[str, Any]], **header: Any) -> str:
    path = write(tmp_path, {"task": "t", **header, "examples": examples})
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    return str(info.value)


def test_an_example_with_both_label_and_elements_is_named(tmp_path: Path) -> None:
    message = examples_error(
        tmp_path,
        [
            {"id": "t-001", "input": "a", "label": "x"},
            {"id": "t-002", "input": "b", "label": "x", "expected_elements": ["y"]},
        ],
    )
    assert "set.json: example 2 (id t-002)" in message
    assert "exactly one of expected_elements or label" in message


def test_a_misspelt_key_is_an_error(tmp_path: Path) -> None:
    message = examples_error(tmp_path, [{"input": "a", "expected_element": ["y"]}])
    assert "example 1: expected_element: unknown key" in message


def test_a_bad_difficulty_is_an_error(tmp_path: Path) -> None:
    message = examples_error(
        tmp_path, [{"id": "q", "input": "a", "label": "x", "difficulty": "brutal"}]
    )
    assert "example 1 (id q): difficulty:" in message


def test_labels_and_elements_do_not_mix(tmp_path: Path) -> None:
    message = examples_error(
        tmp_path,
        [{"input": "a", "label": "x"}, {"input": "b", "expected_elements": ["y"]}],
    )
    assert "example 2 (id t-002): mixes labels and expected_elements" in message


def test_labels_outside_the_declared_set_are_errors(tmp_path: Path) -> None:
    message = examples_error(tmp_path, [{"input": "a", "label": "maybe"}], labels=["yes", "no"])
    assert "label 'maybe' is not one of ['yes', 'no']" in message


def test_duplicate_ids_are_errors(tmp_path: Path) -> None:
    message = examples_error(
        tmp_path, [{"id": "d", "input": "a", "label": "x"}, {"id": "d", "input": "b", "label": "x"}]
    )
    assert "example 2 (id d): duplicate id" in message


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"cannot read eval set .*missing\.json"):
        load_dataset(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"broken\.json: not valid JSON"):
        load_dataset(broken)
    with pytest.raises(DatasetError, match="examples: List should have at least 1 item"):
        load_dataset(write(tmp_path, {"task": "t", "examples": []}))


def test_the_task_must_match(tmp_path: Path) -> None:
    path = write(tmp_path, {"task": "moderation", "examples": [{"input": "a", "label": "x"}]})
    with pytest.raises(DatasetError, match="eval set of task 'moderation', not 'sentiment'"):
        load_dataset(path, task="sentiment")

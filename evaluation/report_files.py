"""The eval run's result files: examples.json/.csv (one row per model and example),
models.json/.csv (one row per model; the JSON also holds the run's settings, highlights,
recommendations and per-label figures) and, for labelled sets, labels.csv and
confusion.csv."""

from __future__ import annotations

import csv
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from llmrouter.core.errors import LLMRouterError
from llmrouter.evaluation.classification import (
    classification_document,
    confusion_rows,
    label_rows,
)
from llmrouter.evaluation.runner import ExampleResult
from llmrouter.schemas import quantize_usd

if TYPE_CHECKING:
    from llmrouter.evaluation.report import Report

__all__ = ["write_outputs"]


# -- files -------------------------------------------------------------------------------


def write_outputs(report: Report, out_dir: Path) -> list[Path]:
    try:
        return _write_all(report, out_dir)
    except OSError as exc:
        raise LLMRouterError(f"cannot write results to {out_dir}: {exc.strerror}") from None


def _write_all(report: Report, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    examples = _tidy_rows([_example_row(r) for run in report.run.runs for r in run.results])
    models = _tidy_rows([asdict(m) for m in report.models])
    written = [
        _write_json(out_dir / "examples.json", examples),
        _write_csv(out_dir / "examples.csv", examples),
        _write_json(out_dir / "models.json", _models_document(report, models)),
        _write_csv(out_dir / "models.csv", models),
    ]
    if report.classification:
        written += [
            _write_csv(out_dir / "labels.csv", _tidy_rows(label_rows(report.classification))),
            _write_csv(out_dir / "confusion.csv", confusion_rows(report.classification)),
        ]
    return written


def _models_document(report: Report, models: list[dict[str, Any]]) -> dict[str, Any]:
    run = report.run
    return {
        "task": run.task,
        "dataset": str(run.dataset_path) if run.dataset_path else None,
        "primary_metric": report.primary,
        "judge": run.judge,
        "simulated": run.simulated,
        "started_at": run.started_at.isoformat(),
        "models": models,
        "highlights": asdict(report.highlights),
        "recommendations": report.recommendations,
        "classification": {
            model: classification_document(c) for model, c in report.classification.items()
        }
        or None,
    }


def _example_row(r: ExampleResult) -> dict[str, Any]:
    row = asdict(r)
    row["model"] = row.pop("candidate")
    row["status"] = "ok" if row.pop("ok") else "failed"
    row["safety_failures"] = ";".join(r.safety_failures)
    row["latency_ms"] = round(r.latency_ms, 1)
    return row


def _tidy(value: Any) -> Any:
    """Files carry what the numbers mean, not float noise: money to the wire's 1e-10 $."""
    if isinstance(value, Decimal):
        return float(quantize_usd(value))
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, Path):
        return str(value)
    return value


def _tidy_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _tidy(v) for k, v in row.items()} for row in rows]


def _write_json(path: Path, data: Any) -> Path:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        if rows:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
    return path


def _csv_cell(value: Any) -> Any:
    return "" if value is None else value

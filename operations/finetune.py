"""`llmrouter export-finetune`: distillation data. A frontier model's answers to real
traffic, read from the results topic and joined with their requests, become a chat
fine-tuning data set (OpenAI's JSON Lines chat format) for a cheaper model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from llmrouter.core.errors import ConfigError, InvalidMessage
from llmrouter.kafkaio.reading import read_records, reader, whole_topic
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.router.config import RouterConfig
from llmrouter.router.prompts import render_prompt
from llmrouter.schemas import (
    LLMRequest,
    LLMResult,
    ResultStatus,
    decode,
    requests_topic,
    results_topic,
)

__all__ = [
    "MIN_EXAMPLES",
    "ExportOutcome",
    "check_export",
    "export_finetune",
    "finetune_example",
]

#: below this many examples a fine-tune tends to copy the examples rather than the task
MIN_EXAMPLES = 1000


@dataclass(frozen=True)
class ExportOutcome:
    written: int
    results_seen: int
    path: Path


def finetune_example(
    config: RouterConfig, request: LLMRequest, result: LLMResult
) -> dict[str, Any]:
    """One chat example: the prompt as the task renders it (default prompt, so the student
    learns the task, not the teacher's prompt variant) and the teacher's answer."""
    prompt = render_prompt(config.tasks[request.task].prompt, "", request.input, request.context)
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    messages.append({"role": "user", "content": prompt.user})
    messages.append({"role": "assistant", "content": result.output or ""})
    return {"messages": messages}


def check_export(config: RouterConfig, task: str, model: str) -> None:
    """Refuse a task or teacher model the config does not know: results name models by
    their catalog name, so an unknown one would silently match nothing."""
    if task not in config.tasks:
        known = ", ".join(sorted(config.tasks))
        raise ConfigError(f"no task {task!r} in the routing config (tasks: {known})")
    if model not in config.models:
        known = ", ".join(sorted(config.models))
        raise ConfigError(f"no model {model!r} in the routing config's catalog (models: {known})")


async def export_finetune(
    kafka: KafkaSettings, config: RouterConfig, task: str, model: str, out: Path
) -> ExportOutcome:
    """Write every fresh (not cached) ok answer by `model` on `task` to `out`."""
    check_export(config, task, model)
    answers: dict[str, LLMResult] = {}
    seen = 0
    async with reader(kafka) as consumer:
        async for record in read_records(
            consumer, await whole_topic(consumer, results_topic(task))
        ):
            seen += 1
            try:
                result = decode(record.value, LLMResult)
            except InvalidMessage:
                continue
            if (
                result.status is ResultStatus.OK
                and result.model == model
                and not result.cached
                and result.output
            ):
                answers[result.request_id] = result
    lines: list[bytes] = []
    async with reader(kafka) as consumer:
        async for record in read_records(
            consumer, await whole_topic(consumer, requests_topic(task))
        ):
            try:
                request = decode(record.value, LLMRequest)
            except InvalidMessage:
                continue
            answer = answers.pop(request.request_id, None)
            if answer is not None:
                lines.append(orjson.dumps(finetune_example(config, request, answer)))
    await asyncio.to_thread(_write_lines, out, lines)
    return ExportOutcome(written=len(lines), results_seen=seen, path=out)


def _write_lines(out: Path, lines: list[bytes]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))

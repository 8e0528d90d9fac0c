"""What the benchmarks send: real customer-support questions (evalsets/customer-support-qa.json,
with their knowledge-base context) and a one-model routing config written to a file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import REPO
from llmrouter.schemas import LLMRequest, dumps, encode, loads, utc_now

__all__ = [
    "BENCH_MODEL",
    "Example",
    "RequestMaker",
    "bench_config",
    "request_bytes",
    "support_examples",
]

EVAL_FILE = REPO / "evalsets" / "customer-support-qa.json"
#: the one catalog model of the bench config; an OpenAI-protocol model, so benchmark (b)'s
#: baseline can call the simulator with the very same SDK the router uses
BENCH_MODEL = "bench-gpt"
SUPPORT_SYSTEM = "You are a customer support assistant."
SUPPORT_TEMPLATE = (
    "Answer this question based on our knowledge base:\n"
    "Knowledge base: {kb_context}\n"
    "Question: {question}\n"
    "Provide a helpful, professional response.\n"
)


@dataclass(frozen=True, slots=True)
class Example:
    input: str
    context: dict[str, Any]


def support_examples() -> list[Example]:
    raw = loads(EVAL_FILE.read_bytes())
    return [Example(e["input"], dict(e.get("context") or {})) for e in raw["examples"]]


def bench_config(path: Path, task: str, *, max_concurrency: int) -> Path:
    """A routing config with one static-route task: exactly one provider call per request,
    and no response cache (repeated questions must still reach the provider)."""
    config = {
        "version": 1,
        "defaults": {"cache": {"enabled": False}},
        "models": {
            BENCH_MODEL: {
                "provider": "openai",
                "model_id": "gpt-3.5-turbo-0125",
                "input_usd_per_1k": 0.0005,
                "output_usd_per_1k": 0.0015,
                "context_window_tokens": 16385,
                # The product's limiter must not be what the benchmark measures.
                "max_concurrency": max_concurrency,
            }
        },
        "tasks": {
            task: {
                "prompt": {
                    "system": SUPPORT_SYSTEM,
                    "template": SUPPORT_TEMPLATE,
                    "context": {"kb_context": ""},
                },
                "route": {"strategy": "static", "model": BENCH_MODEL},
            }
        },
    }
    path.write_bytes(dumps(config))  # JSON is YAML, and needs no escaping of `{kb_context}`
    return path


class RequestMaker:
    """Requests as `request_bytes` makes them, at a fraction of its CPU: each example is
    validated through the schema once, then only its id and creation time change (so the
    bench's own sender takes less of the CPU the systems under test need)."""

    def __init__(self, task: str, examples: list[Example]) -> None:
        self._bases = [loads(request_bytes(task, example)[1]) for example in examples]

    def __call__(self, i: int) -> tuple[bytes, bytes]:
        request_id = uuid.uuid4().hex
        value = {
            **self._bases[i % len(self._bases)],
            "request_id": request_id,
            "created_at": datetime.now(UTC).isoformat(),
        }
        return request_id.encode(), dumps(value)


def request_bytes(task: str, example: Example) -> tuple[bytes, bytes]:
    """(key, value) of one request as a client service would publish it."""
    request = LLMRequest(
        request_id=uuid.uuid4().hex,
        task=task,
        input=example.input,
        context=example.context,
        created_at=utc_now(),
    )
    return request.request_id.encode(), encode(request)

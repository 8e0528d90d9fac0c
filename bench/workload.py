"""What the benchmarks send: real customer-support questions (evalsets/customer-support-qa.json,
with their knowledge-base context), and the routing config of the bench task written to a
file: a static route to one model, or a complexity route over three."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import REPO
from bench.prompt import SUPPORT_SYSTEM, SUPPORT_TEMPLATE
from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config
from llmrouter.schemas import LLMRequest, dumps, encode, loads, utc_now

__all__ = [
    "BENCH_MODEL",
    "ROUTINGS",
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
#: how the bench task picks its model: `static` (always BENCH_MODEL) or `complexity`
ROUTINGS = ("static", "complexity")
#: the example config's rule classifier (no API call): on the eval set's questions it
#: labels about three in four SIMPLE, most others MEDIUM, a few COMPLEX
CLASSIFIER = "support-rules"
#: the complexity route's catalog: name → (provider, model id, input, output USD per 1k)
_MODELS: dict[str, tuple[str, str, float, float]] = {
    BENCH_MODEL: ("openai", "gpt-3.5-turbo-0125", 0.0005, 0.0015),
    "bench-haiku": ("anthropic", "claude-3-haiku-20240307", 0.00025, 0.00125),
    "bench-4o": ("openai", "gpt-4o-2024-08-06", 0.0025, 0.01),
}
_LEVELS = {"SIMPLE": BENCH_MODEL, "MEDIUM": "bench-haiku", "COMPLEX": "bench-4o"}


@dataclass(frozen=True, slots=True)
class Example:
    input: str
    context: dict[str, Any]


def support_examples() -> list[Example]:
    raw = loads(EVAL_FILE.read_bytes())
    return [Example(e["input"], dict(e.get("context") or {})) for e in raw["examples"]]


def bench_config(path: Path, task: str, *, max_concurrency: int, routing: str = "static") -> Path:
    """A routing config with one task, `static` (one model) or `complexity` (the example
    config's rule classifier picks one of three models, each answering through the
    simulator): exactly one provider call per request either way, and no response cache
    (repeated questions must still reach the provider)."""
    if routing not in ROUTINGS:
        raise ValueError(f"routing {routing!r}: choose from {ROUTINGS}")
    names = list(_MODELS) if routing == "complexity" else [BENCH_MODEL]
    route: dict[str, Any] = (
        {"strategy": "complexity", "classifier": CLASSIFIER, "levels": _LEVELS}
        if routing == "complexity"
        else {"strategy": "static", "model": BENCH_MODEL}
    )
    config: dict[str, Any] = {
        "version": 1,
        "defaults": {"cache": {"enabled": False}},
        "models": {name: _model(name, max_concurrency) for name in names},
        "tasks": {
            task: {
                "prompt": {
                    "system": SUPPORT_SYSTEM,
                    "template": SUPPORT_TEMPLATE,
                    "context": {"kb_context": ""},
                },
                "route": route,
            }
        },
    }
    if routing == "complexity":
        config["classifiers"] = {CLASSIFIER: _example_classifier()}
    path.write_bytes(dumps(config))  # JSON is YAML, and needs no escaping of `{kb_context}`
    return path


def _model(name: str, max_concurrency: int) -> dict[str, Any]:
    provider, model_id, input_usd, output_usd = _MODELS[name]
    return {
        "provider": provider,
        "model_id": model_id,
        "input_usd_per_1k": input_usd,
        "output_usd_per_1k": output_usd,
        "context_window_tokens": 16385,
        # The product's limiter must not be what the benchmark measures.
        "max_concurrency": max_concurrency,
    }


def _example_classifier() -> dict[str, Any]:
    spec = load_config(EXAMPLE_CONFIG).classifiers[CLASSIFIER]
    dumped: dict[str, Any] = spec.model_dump(mode="json", exclude_none=True)
    return dumped


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

"""Hand-made eval runs, so report, plot and compare are tested on known numbers."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.evaluation.candidates import Candidate
from llmrouter.evaluation.dataset import Kind
from llmrouter.evaluation.runner import CandidateRun, EvalRun, ExampleResult


def row(
    model: str,
    n: int,
    *,
    quality: float | None,
    cost: str,
    latency_ms: float = 1000.0,
    safe: bool | None = True,
    ok: bool = True,
    tone: float | None = None,
) -> ExampleResult:
    return ExampleResult(
        candidate=model,
        example_id=f"ex-{n:03d}",
        category="common",
        difficulty="medium",
        ok=ok,
        output="an answer" if ok else None,
        answered_by=model if ok else None,
        model_version=f"{model}-v1",
        latency_ms=latency_ms,
        cost_usd=Decimal(cost),
        attempts=1,
        escalated=False,
        fallback_used=False,
        accuracy=None,
        completeness=quality,
        safety=safe if ok else None,
        safety_failures=[] if safe or not ok else ["prompt_leak"],
        tone=tone,
    )


def candidate_run(
    model: str,
    qualities: list[float],
    cost: str,
    latency_ms: float,
    *,
    route: bool = False,
    safety: list[bool] | None = None,
) -> CandidateRun:
    candidate = Candidate(model) if route else Candidate(model, model, f"{model}-v1")
    safe = safety or [True] * len(qualities)
    rows = [
        row(model, i, quality=q, cost=cost, latency_ms=latency_ms + i, safe=s)
        for i, (q, s) in enumerate(zip(qualities, safe, strict=True))
    ]
    return CandidateRun(candidate, rows, elapsed_s=2.0)


def typical_run() -> EvalRun:
    """Four models shaped like a typical comparison (completeness as quality)."""
    return EvalRun(
        task="customer-support-qa",
        dataset_path=None,
        kind=Kind.ELEMENTS,
        runs=[
            candidate_run("gpt-4-turbo", [0.9, 0.88, 0.86, 0.88], "0.012", 3000),
            candidate_run("claude-3-opus", [0.9, 0.9, 0.88, 0.88], "0.015", 2800),
            candidate_run("claude-3-haiku", [0.7, 0.74, 0.72, 0.72], "0.00025", 800),
            candidate_run("gemini-pro", [0.8, 0.8, 0.78, 0.82], "0.00025", 2000),
            candidate_run("route", [0.84, 0.86, 0.84, 0.86], "0.003", 1500, route=True),
        ],
        route_models=("claude-3-haiku", "claude-3-sonnet", "gpt-4-turbo"),
    )

"""The quality worker's metrics, part of every worker process's (workers/metrics.py
`Metrics.quality`):

- `llmrouter_live_quality{task,model}`: mean of the latest `quality.window` scores, with
  `llmrouter_live_quality_lower` / `_upper` (95% Wilson interval) and
  `llmrouter_live_quality_baseline` (the `quality.baseline` scores before them);
- `llmrouter_quality_drift{task,model}`: 1 while the recent mean is below the baseline by
  more than `quality.drift_margin` (the PrometheusRule `LLMRouterQualityDrift` reads it);
- `llmrouter_quality_scores_total{task,model,answer_source,judge}`: scores read;
- `llmrouter_shadow_calls_total{task,model,status}`, `llmrouter_quality_skipped_total{task,
  reason}`: shadow answers made, and samples skipped (`no_request`: its request was not in
  the join; `budget`: the day's shadow budget was spent; `unknown_request`: feedback about
  an answer not held, naming no model; `duplicate_feedback`: a statement scored already).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from llmrouter.schemas.scores import Score
from llmrouter.workers.quality.live import QualityFigures

__all__ = ["QualityMetrics"]


class QualityMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = r = registry
        labels = ["task", "model"]
        self.quality = Gauge("llmrouter_live_quality", "Recent mean score", labels, registry=r)
        self.lower = Gauge(
            "llmrouter_live_quality_lower", "Recent mean score, 95% lower bound", labels, registry=r
        )
        self.upper = Gauge(
            "llmrouter_live_quality_upper", "Recent mean score, 95% upper bound", labels, registry=r
        )
        self.baseline = Gauge(
            "llmrouter_live_quality_baseline", "Trailing baseline mean score", labels, registry=r
        )
        self.drift = Gauge(
            "llmrouter_quality_drift", "1: recent quality below the baseline", labels, registry=r
        )
        self.scores = Counter(
            "llmrouter_quality_scores",
            "Scores read from llm.scores",
            ["task", "model", "answer_source", "judge"],
            registry=r,
        )
        self.shadow_calls = Counter(
            "llmrouter_shadow_calls",
            "Shadow answers made",
            ["task", "model", "status"],
            registry=r,
        )
        self.skipped = Counter(
            "llmrouter_quality_skipped",
            "Sampled answers not mirrored or graded",
            ["task", "reason"],
            registry=r,
        )

    def observe(self, score: Score, figures: QualityFigures) -> None:
        judge = score.judge_model if score.judge_model in ("label", "feedback") else "judge"
        self.scores.labels(score.task, score.model, score.answer_source, judge).inc()
        labels = (figures.task, figures.model)
        self.quality.labels(*labels).set(figures.mean)
        self.lower.labels(*labels).set(figures.lower)
        self.upper.labels(*labels).set(figures.upper)
        if figures.baseline_mean is not None:
            self.baseline.labels(*labels).set(figures.baseline_mean)
        self.drift.labels(*labels).set(1.0 if figures.drifting else 0.0)

"""Prometheus metrics of a worker process (prometheus-client; one registry per process).

Alert on: dead letters rising, `llmrouter_consumer_lag` growing for minutes, the share of
`status="failed"` results, attempts with outcome rate_limited/server_error, and p99 of
`llmrouter_request_latency_seconds` against each task's latency target.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from llmrouter.router.ratelimit import QUEUE_FULL
from llmrouter.router.state.budget import DEGRADED as BUDGET_DEGRADED
from llmrouter.runtime.reporting import TransactionOutcome, UnpublishedReason
from llmrouter.schemas import AttemptOutcome, LLMResult
from llmrouter.workers.quality.metrics import QualityMetrics

__all__ = ["METRICS", "Metrics"]

_LATENCY_BUCKETS_S = (
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    8.0,
    13.0,
    21.0,
    34.0,
    60.0,
)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        #: label children by (metric, values), for `_child`
        self._children: dict[tuple[int | str, ...], Any] = {}
        #: the quality worker's: live quality, drift, scores, shadow calls
        self.quality = QualityMetrics(r)
        self.requests = Counter(
            "llmrouter_requests", "Finished requests", ["task", "model", "status"], registry=r
        )
        self.attempts = Counter(
            "llmrouter_attempts", "Provider calls and cache hits", ["model", "outcome"], registry=r
        )
        self.request_latency = Histogram(
            "llmrouter_request_latency_seconds",
            "Request creation to result",
            ["task"],
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.provider_latency = Histogram(
            "llmrouter_provider_latency_seconds",
            "One provider call",
            ["model"],
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.tokens = Counter(
            "llmrouter_tokens", "Tokens billed", ["model", "direction"], registry=r
        )
        self.cost = Counter("llmrouter_cost_usd", "Cost in USD", ["task", "model"], registry=r)
        self.cache_hits = Counter(
            "llmrouter_cache_hits", "Answers served from cache", ["task"], registry=r
        )
        self.escalations = Counter(
            "llmrouter_escalations", "Cascade escalations", ["task"], registry=r
        )
        self.fallbacks = Counter(
            "llmrouter_fallbacks", "Answers from a fallback model", ["task"], registry=r
        )
        self.retries = Counter(
            "llmrouter_retries", "Repeated calls to the same model", ["model"], registry=r
        )
        self.dead_letters = Counter(
            "llmrouter_dead_letters",
            "Messages sent to llm.dlq",
            ["stage", "error_type"],
            registry=r,
        )
        self.expired = Counter(
            "llmrouter_expired",
            "Requests past their deadline or max_age_s, answered `expired` with no provider call",
            ["task", "stage"],
            registry=r,
        )
        self.duplicates = Counter(
            "llmrouter_duplicates",
            "Requests whose request_id already had a result: no provider call, no cost event",
            ["task", "action"],
            registry=r,
        )
        self.in_flight = Gauge(
            "llmrouter_in_flight", "Records being processed", ["worker"], registry=r
        )
        self.uncommitted = Gauge(
            "llmrouter_uncommitted",
            "Records in flight or finished and not yet published",
            ["worker"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "llmrouter_consumer_lag",
            "Records between the group's committed offset and the end of the partition:"
            " a record stuck in its handler holds it up, so it grows with every later one",
            ["worker", "topic", "partition"],
            registry=r,
        )
        self.transactions = Counter(
            "llmrouter_transactions",
            "Kafka transactions by result: committed, failed, timed_out (aborted by the"
            " coordinator), fenced_retry (fenced with no other holder of the id)",
            ["worker", "result"],
            registry=r,
        )
        self.skipped_done = Counter(
            "llmrouter_skipped_done",
            "Records skipped on assignment: a previous owner had published them",
            ["worker"],
            registry=r,
        )
        self.results_held = Counter(
            "llmrouter_results_held",
            "Finished records held back because the done-offsets record was full",
            ["worker"],
            registry=r,
        )
        self.unpublished = Counter(
            "llmrouter_unpublished_outputs",
            "Error outputs of finished records not published: the error policy raised"
            " (error_policy_failed) or the output was too large to send (too_large)",
            ["worker", "reason"],
            registry=r,
        )
        self.calls_cut_off = Counter(
            "llmrouter_calls_cut_off",
            "Provider calls cut off in flight with their record (handed over past the"
            " rebalance grace, or a shutdown past the grace): each published by this worker"
            " as an `abandoned` cost event. A SIGKILL cuts calls off uncounted.",
            ["stage", "model"],
            registry=r,
        )
        self.unbound_cost_events = Counter(
            "llmrouter_unbound_cost_events",
            "Cost events published by the worker that made the calls because no result"
            " carries them (the record was cut off, or its handler raised)",
            ["stage"],
            registry=r,
        )
        # batch jobs through the providers' batch APIs (workers/batch/)
        self.batch_jobs = Gauge(
            "llmrouter_batch_jobs", "Batch jobs this process owns, by state", ["state"], registry=r
        )
        self.batch_waiting = Gauge(
            "llmrouter_batch_requests_waiting",
            "Batch-priority requests handed over and not yet answered (in no job, or in one)",
            registry=r,
        )
        self.batch_oldest_job_age = Gauge(
            "llmrouter_batch_oldest_job_age_seconds",
            "Age of the oldest job not yet done (0: none)",
            registry=r,
        )
        self.batch_requests = Counter(
            "llmrouter_batch_requests",
            "Requests of ended batch jobs: answered, fallback (realtime), failed",
            ["model", "outcome"],
            registry=r,
        )
        self.invalid_outputs = Counter(
            "llmrouter_invalid_outputs",
            "Answers that broke their task's prompt.response_schema (the route moved on)",
            ["task", "model"],
            registry=r,
        )
        self.ready = Gauge(
            "llmrouter_ready", "1 when the worker reports ready", ["worker"], registry=r
        )
        r.register(_LimitQueueFull(QUEUE_FULL))
        r.register(_StateDegraded())

    def observe_result(self, result: LLMResult) -> None:
        child = self._child
        task = result.task
        child(self.requests, task, result.model or "none", result.status.value).inc()
        child(self.request_latency, task).observe(result.latency_ms / 1000)
        if result.cached:
            child(self.cache_hits, task).inc()
        if result.escalated:
            child(self.escalations, task).inc()
        if result.fallback_used:
            child(self.fallbacks, task).inc()
        previous: str | None = None
        for attempt in result.attempts:
            model = attempt.model
            child(self.attempts, model, attempt.outcome.value).inc()
            if attempt.outcome is AttemptOutcome.INVALID_OUTPUT:
                child(self.invalid_outputs, task, model).inc()
            if attempt.outcome is not AttemptOutcome.CACHE_HIT:
                child(self.provider_latency, model).observe(attempt.latency_ms / 1000)
            if model == previous and attempt.purpose == "answer":
                child(self.retries, model).inc()
            previous = model
            child(self.tokens, model, "input").inc(attempt.input_tokens)
            child(self.tokens, model, "output").inc(attempt.output_tokens)
            if attempt.cost_usd:
                child(self.cost, task, model).inc(float(attempt.cost_usd))

    def _child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, kept: prometheus_client takes a lock and checks the
        values on every call, several times a result (the series are never removed)."""
        key: tuple[int | str, ...] = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # What the exactly-once runtime reports (llmrouter.runtime.reporting.RuntimeMetrics).

    def count_transaction(self, worker: str, outcome: TransactionOutcome) -> None:
        self.transactions.labels(worker, outcome).inc()

    def count_results_held(self, worker: str, records: int) -> None:
        self.results_held.labels(worker).inc(records)

    def count_skipped_done(self, worker: str, records: int) -> None:
        self.skipped_done.labels(worker).inc(records)

    def count_unpublished(self, worker: str, reason: UnpublishedReason, outputs: int) -> None:
        self.unpublished.labels(worker, reason).inc(outputs)


class _LimitQueueFull(Collector):
    """`llmrouter_limit_queue_full_total{model}`: calls not made because the model's limits
    gave no slot within its `queue_s` (the route moved on), counted by the limiters."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "llmrouter_limit_queue_full",
            "Calls not made: no rate-limit slot within the model's queue_s",
            labels=["model"],
        )
        for model, count in sorted(self._counts.items()):
            family.add_metric([model], count)
        yield family


class _StateDegraded(Collector):
    """`llmrouter_state_degraded{part}`: 1 while a part of the shared state works from this
    process's share because the store cannot be reached (router/state/budget.py)."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "llmrouter_state_degraded",
            "1 while the state store is unreachable and this replica enforces its share",
            labels=["part"],
        )
        family.add_metric(["budget"], 1.0 if len(BUDGET_DEGRADED) else 0.0)
        yield family


#: The process-wide metrics; tests may build their own Metrics on a fresh registry.
METRICS = Metrics()

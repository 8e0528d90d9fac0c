"""The chart's Grafana dashboard and alert rules query only metrics the workers export."""

from __future__ import annotations

import re
from pathlib import Path

from llmrouter.schemas.codec import loads
from llmrouter.workers.metrics import Metrics

CHART = Path(__file__).resolve().parents[2] / "helm" / "llmrouter"
METRIC = re.compile(r"\bllmrouter_[a-z0-9_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def _exported() -> set[str]:
    """Series names, plus each family's own name (which prose may mention)."""
    families = list(Metrics().registry.collect())
    series = {f.name + suffix for f in families for suffix in SUFFIXES[f.type]}
    return series | {f.name for f in families}


def _dashboard() -> dict[str, object]:
    data: dict[str, object] = loads(
        (CHART / "files" / "dashboard.json").read_text(encoding="utf-8")
    )
    return data


def test_dashboard_queries_exported_metrics() -> None:
    text = (CHART / "files" / "dashboard.json").read_text(encoding="utf-8")
    queried = set(METRIC.findall(text))
    assert queried - _exported() == set()
    # requests, latency, cost, escalations, consumer lag and dead letters are all shown
    wanted = {
        "llmrouter_requests_total",
        "llmrouter_request_latency_seconds_bucket",
        "llmrouter_cost_usd_total",
        "llmrouter_escalations_total",
        "llmrouter_consumer_lag",
        "llmrouter_dead_letters_total",
    }
    assert wanted <= queried


def test_dashboard_panels_have_unique_ids_and_a_datasource_variable() -> None:
    dashboard = _dashboard()
    panels = dashboard["panels"]
    assert isinstance(panels, list)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    templating = dashboard["templating"]
    assert isinstance(templating, dict)
    names = {v["name"] for v in templating["list"]}
    assert {"datasource", "namespace", "task", "model"} <= names


def test_alert_rules_query_exported_metrics() -> None:
    text = (CHART / "templates" / "prometheusrule.yaml").read_text(encoding="utf-8")
    queried = set(METRIC.findall(text))
    assert queried - _exported() == set()
    assert {"llmrouter_ready", "llmrouter_consumer_lag", "llmrouter_dead_letters_total"} <= queried

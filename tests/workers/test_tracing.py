"""One trace per request, end to end: the producer's send, the classifier's and the
router's steps, and each provider call, with the W3C trace context carried in the Kafka
headers of both hops and of the result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmrouter.core import tracing
from llmrouter.producers import RequestProducer
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import ResultStatus, requests_topic, results_topic
from tests.workers.conftest import Pipeline, assign_from_start

MakePipeline = Callable[..., Awaitable[Pipeline]]

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter behind the process's tracer provider (set once: OpenTelemetry
    allows one global provider per process)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {[s.name for s in spans]}"
    return found[0]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@pytest.mark.parametrize("classifier_stage", ["always", "needed"])
async def test_one_trace_spans_producer_classifier_router_and_provider_calls(
    pipeline: MakePipeline, spans: InMemorySpanExporter, classifier_stage: str
) -> None:
    """Through both hops, and (the cascade task needs no complexity) straight to the
    router when the classifier stage is only for the tasks that need it."""
    p = await pipeline()
    config = yaml.safe_load(p.config_text)
    config.setdefault("defaults", {})["classifier_stage"] = classifier_stage
    p.config = parse_config(yaml.safe_dump(config, sort_keys=False))
    await p.start()
    mod = p.tasks["mod"]
    async with RequestProducer.from_env(p.bootstrap) as producer:
        result = await producer.submit_and_wait(mod, "unsure content", timeout_s=60)
    assert result.status is ResultStatus.OK
    assert [a.model for a in result.attempts] == ["cheap", "big"], "escalated once"

    finished = list(spans.get_finished_spans())
    send = next(
        s
        for s in finished
        if s.name == f"send {requests_topic(mod)}"
        and (s.attributes or {}).get("llmrouter.request_id") == result.request_id
    )
    assert send.context is not None
    trace_id = send.context.trace_id
    mine = [s for s in finished if s.context is not None and s.context.trace_id == trace_id]
    route = _one(mine, f"route {mod}")
    calls = [s for s in mine if s.name.startswith("chat ")]
    assert route.context is not None
    if classifier_stage == "always":
        classify = _one(mine, f"classify {mod}")
        assert classify.context is not None
        assert _parent_id(classify) == send.context.span_id, "the first hop continues the trace"
        assert _parent_id(route) == classify.context.span_id, "so does the second"
    else:
        assert not [s for s in mine if s.name.startswith("classify ")]
        assert _parent_id(route) == send.context.span_id, "the one hop continues the trace"
    assert [s.name for s in sorted(calls, key=lambda s: s.start_time or 0)] == [
        "chat claude-3-haiku-20240307",
        "chat gpt-4-turbo-2024-04-09",
    ]
    for call in calls:
        assert _parent_id(call) == route.context.span_id
        attrs = call.attributes or {}
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.system"] in ("anthropic", "openai")
        assert attrs["gen_ai.request.model"] == call.name.removeprefix("chat ")
        assert int(str(attrs["gen_ai.usage.input_tokens"])) > 0
        assert int(str(attrs["gen_ai.usage.output_tokens"])) > 0
        assert attrs["llmrouter.outcome"] == "ok"
    assert {(c.attributes or {})["gen_ai.system"] for c in calls} == {"anthropic", "openai"}
    attrs = route.attributes or {}
    assert attrs["llmrouter.task"] == mod
    assert attrs["llmrouter.outcome"] == "ok"
    assert attrs["llmrouter.model"] == "big"
    assert attrs["llmrouter.route"] == result.route
    assert attrs["llmrouter.escalated"] is True
    assert attrs["llmrouter.cost_usd"] == pytest.approx(float(result.cost_usd))
    for span in mine:  # prompt and answer text stay out of traces
        assert "unsure content" not in str(dict(span.attributes or {}))

    # The result record carries the trace on, for whoever reads it.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=p.bootstrap, group_id=None, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        await assign_from_start(consumer, [results_topic(mod)])
        records = await consumer.getmany(timeout_ms=5000)
        headers = [
            r.headers for rs in records.values() for r in rs if r.key == result.request_id.encode()
        ]
    finally:
        await consumer.stop()
    assert len(headers) == 1
    carried = tracing.context_from_headers(headers[0])
    assert carried is not None
    assert trace.get_current_span(carried).get_span_context().trace_id == trace_id


def test_tracing_off_is_free_and_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OTEL_* variables the OTLP set-up does nothing and the helpers still work."""
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.configure_tracing("llmrouter-test") is False  # no OTEL_* variables set
    with tracing.span("noop", attributes={"a": 1, "b": None}) as span:
        span.set({"c": "x"})
    assert tracing.headers_with_context([("k", b"v")])[0] == ("k", b"v")

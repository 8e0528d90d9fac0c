"""OpenTelemetry tracing: spans, and W3C trace context carried in Kafka headers.

Tracing is off and costs next to nothing unless an OpenTelemetry SDK is installed and
configured: a service embedding the producer client sets up its own SDK, and a worker
process calls `configure_tracing()`, which exports over OTLP when the standard `OTEL_*`
environment variables ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_TRACES_EXPORTER=otlp`). Without the
opentelemetry API installed (the bare client library), every helper here does nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import structlog

try:
    from opentelemetry import propagate, trace
    from opentelemetry.context import Context
except ImportError:  # the client library without the `worker` extra: tracing is off
    _OTEL = False
else:
    _OTEL = True

__all__ = [
    "Headers",
    "SpanHandle",
    "configure_tracing",
    "context_from_headers",
    "headers_with_context",
    "span",
]

log = structlog.get_logger("llmrouter.tracing")

#: Kafka record headers, as aiokafka takes and gives them.
Headers = Sequence[tuple[str, bytes]]
SpanKindName = Literal["internal", "producer", "consumer", "client"]

_TRACER_NAME = "llmrouter"
#: what the default propagators (W3C trace context and baggage) write
_CONTEXT_HEADERS = frozenset({"traceparent", "tracestate", "baggage"})
_configured = False
#: how long "no tracer provider is installed" is believed before the API is asked again
_RECHECK_S = 0.5
_installed = False
_next_check_s = 0.0


class SpanHandle:
    """The span being recorded (or nothing, when tracing is off)."""

    __slots__ = ("_span",)

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def set(self, attributes: Mapping[str, Any]) -> None:
        """Set attributes, skipping None values (OpenTelemetry rejects them)."""
        if self._span is None:
            return
        for key, value in attributes.items():
            if value is not None:
                self._span.set_attribute(key, value)

    def error(self, description: str) -> None:
        """Mark the span failed with a short, secret-free description."""
        if self._span is not None:
            self._span.set_status(trace.Status(trace.StatusCode.ERROR, description[:300]))


_OFF = SpanHandle()


@contextlib.contextmanager
def span(
    name: str,
    *,
    kind: SpanKindName = "internal",
    attributes: Mapping[str, Any] | None = None,
    parent: Headers | None = None,
) -> Iterator[SpanHandle]:
    """A span around the block, made current. `parent` is the headers of the Kafka record
    being processed, whose trace this span continues; without it the current span is the
    parent. Exceptions mark the span failed but are not recorded with their traceback."""
    if not _recording():
        yield _OFF
        return
    tracer = trace.get_tracer(_TRACER_NAME)
    context = context_from_headers(parent) if parent is not None else None
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=_KINDS[kind],
        record_exception=False,
        set_status_on_exception=True,
    ) as current:
        handle = SpanHandle(current)
        if attributes:
            handle.set(attributes)
        yield handle


def headers_with_context(headers: Headers | None = None) -> list[tuple[str, bytes]]:
    """`headers` with the W3C trace context (`traceparent`, `tracestate`, `baggage`) of the
    current span in place of any they carried."""
    if not _recording():  # pass an upstream trace context on untouched
        return list(headers or ())
    out = [(k, v) for k, v in headers or () if k not in _CONTEXT_HEADERS]
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    out += [(k, v.encode()) for k, v in carrier.items()]
    return out


def context_from_headers(headers: Headers | None) -> Context | None:
    """The trace context a Kafka record's headers carry (None when tracing is off)."""
    if not _recording():
        return None
    carrier = {k: v.decode(errors="replace") for k, v in headers or () if v is not None}
    return propagate.extract(carrier)


def _recording() -> bool:
    """Whether a tracer provider is installed (by `configure_tracing`, a test, or the
    embedding service). Without one every helper returns at once: a span of the API's
    default provider records nothing, yet costs a context switch and attribute calls on
    every request.

    Asking the API costs an environment lookup that fails (a raised KeyError) while no
    provider is set, about 7% of a router's CPU at a thousand requests a second; so the
    answer "none" is kept for `_RECHECK_S`, and "installed" for good (a provider, once set,
    cannot be replaced)."""
    global _installed, _next_check_s
    if _installed:
        return True
    if not _OTEL:
        return False
    now_s = time.monotonic()
    if now_s < _next_check_s:
        return False
    _installed = not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )
    _next_check_s = now_s + _RECHECK_S
    return _installed


def configure_tracing(service_name: str) -> bool:
    """Export spans over OTLP when the `OTEL_*` environment asks for it; True when it does.

    Does nothing when another part of the process already installed a tracer provider,
    when `OTEL_SDK_DISABLED=true`, or when the `otel` extra (SDK and exporter) is missing."""
    global _configured, _next_check_s
    env = os.environ
    wanted = env.get("OTEL_TRACES_EXPORTER", "").lower() == "otlp" or bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    if (
        _configured
        or not _OTEL
        or not wanted
        or env.get("OTEL_TRACES_EXPORTER", "").lower() == "none"
        or env.get("OTEL_SDK_DISABLED", "").lower() == "true"
    ):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_* asks for traces but the otel extra is not installed")
        return False
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over our default name.
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {"service.name": service_name})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    _next_check_s = 0.0  # ask the API again on the next span
    log.info("tracing on", exporter="otlp", service=service_name)
    return True


if _OTEL:
    _KINDS = {
        "internal": trace.SpanKind.INTERNAL,
        "producer": trace.SpanKind.PRODUCER,
        "consumer": trace.SpanKind.CONSUMER,
        "client": trace.SpanKind.CLIENT,
    }

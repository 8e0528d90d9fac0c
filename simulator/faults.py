"""Which fault (if any) a request gets: per-request directives first, then the model's rates.

Directives come from request headers or from markers inside the prompt text (markers reach
the simulator through any client, e.g. a request published to Kafka; they are removed from
the prompt before it is answered):

| header                  | prompt marker            | meaning                                 |
| ----------------------- | ------------------------ | --------------------------------------- |
| `x-sim-fault: F`        | `[[sim:fault=F]]`        | fail with F (see `Fault`)               |
| `x-sim-fault-times: N`  | `[[sim:fault=F*N]]`      | only the first N identical calls fail   |
| `x-sim-fault-model: M`  | `[[sim:fault=F@M]]`      | only models whose id contains M         |
| `x-sim-retry-after: S`  | `[[sim:retry_after=S]]`  | Retry-After seconds of a 429            |
| `x-sim-latency-ms: MS`  | `[[sim:latency_ms=MS]]`  | this request's latency (0 = no sleep)   |

Markers combine: `[[sim:fault=429*1@haiku]]` rate-limits the first call to any haiku model
with this prompt, and lets the retry through. Rate-based faults are drawn from one seeded
`random.Random` per model, so a given sequence of calls fails the same way on every run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from llmrouter.simulator.profiles import ModelProfile


class Fault(StrEnum):
    """A failure the simulator can produce; the value is the outcome name in the stats."""

    RATE_LIMIT = "429"
    SERVER_ERROR = "500"
    OVERLOADED = "529"
    HANG = "hang"
    MALFORMED = "malformed"
    CONTEXT_LENGTH = "context_length"
    CONTENT_POLICY = "content_policy"
    AUTH = "auth"
    #: answered, but a structured answer breaks the schema it was asked for (structured.py)
    INVALID_OUTPUT = "invalid_output"


_ALIASES: dict[str, Fault] = {f.value: f for f in Fault} | {
    "rate_limit": Fault.RATE_LIMIT,
    "server_error": Fault.SERVER_ERROR,
    "overloaded": Fault.OVERLOADED,
    "timeout": Fault.HANG,
    "context_length_exceeded": Fault.CONTEXT_LENGTH,
    "content_policy_violation": Fault.CONTENT_POLICY,
    "401": Fault.AUTH,
}

HEADER_FAULT = "x-sim-fault"
HEADER_FAULT_TIMES = "x-sim-fault-times"
HEADER_FAULT_MODEL = "x-sim-fault-model"
HEADER_RETRY_AFTER = "x-sim-retry-after"
HEADER_LATENCY = "x-sim-latency-ms"

MARKER_START = "[[sim:"
_MARKER = re.compile(r"\[\[sim:([a-z_]+)=([^\]]*)\]\]")
_FAULT_SPEC = re.compile(r"^([a-z0-9_]+)(?:\*(\d+))?(?:@(.+))?$")


class DirectiveError(ValueError):
    """A simulator header or prompt marker with a value that cannot be understood."""


@dataclass(frozen=True, slots=True)
class Directive:
    """What one request asks of the simulator itself."""

    fault: Fault | None = None
    times: int | None = None
    model: str | None = None
    retry_after_s: float | None = None
    latency_ms: float | None = None

    def applies_to(self, model_id: str) -> bool:
        return self.fault is not None and (self.model is None or self.model in model_id)


NO_DIRECTIVE = Directive()


def parse_fault(value: str) -> Fault:
    fault = _ALIASES.get(value.strip().lower())
    if fault is None:
        known = ", ".join(f.value for f in Fault)
        raise DirectiveError(f"unknown simulated fault {value!r} (known: {known})")
    return fault


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise DirectiveError(f"{name} must be a number, got {value!r}") from None
    if number < 0:
        raise DirectiveError(f"{name} must not be negative")
    return number


def _merge(
    base: Directive,
    *,
    fault: Fault | None = None,
    times: int | None = None,
    model: str | None = None,
    retry_after_s: float | None = None,
    latency_ms: float | None = None,
) -> Directive:
    return Directive(
        fault=fault if fault is not None else base.fault,
        times=times if times is not None else base.times,
        model=model if model is not None else base.model,
        retry_after_s=retry_after_s if retry_after_s is not None else base.retry_after_s,
        latency_ms=latency_ms if latency_ms is not None else base.latency_ms,
    )


def from_headers(headers: Mapping[str, str]) -> Directive:
    """The directive of the `x-sim-*` headers (NO_DIRECTIVE when there are none)."""
    fault = headers.get(HEADER_FAULT)
    times = headers.get(HEADER_FAULT_TIMES)
    model = headers.get(HEADER_FAULT_MODEL)
    retry = headers.get(HEADER_RETRY_AFTER)
    latency = headers.get(HEADER_LATENCY)
    if fault is None and times is None and model is None and retry is None and latency is None:
        return NO_DIRECTIVE
    return Directive(
        fault=parse_fault(fault) if fault else None,
        times=int(_number(HEADER_FAULT_TIMES, times)) if times else None,
        model=model or None,
        retry_after_s=_number(HEADER_RETRY_AFTER, retry) if retry else None,
        latency_ms=_number(HEADER_LATENCY, latency) if latency else None,
    )


def from_markers(text: str, base: Directive) -> Directive:
    """Apply the `[[sim:...]]` markers found in `text` on top of `base`."""
    directive = base
    for key, value in _MARKER.findall(text):
        if key == "fault":
            spec = _FAULT_SPEC.match(value.strip().lower())
            if spec is None:
                raise DirectiveError(f"bad simulator marker [[sim:fault={value}]]")
            directive = _merge(
                directive,
                fault=parse_fault(spec.group(1)),
                times=int(spec.group(2)) if spec.group(2) else None,
                model=spec.group(3),
            )
        elif key == "retry_after":
            directive = _merge(directive, retry_after_s=_number("retry_after", value))
        elif key == "latency_ms":
            directive = _merge(directive, latency_ms=_number("latency_ms", value))
        else:
            raise DirectiveError(f"unknown simulator marker [[sim:{key}=...]]")
    return directive


def strip_markers(text: str) -> str:
    """`text` without its `[[sim:...]]` markers."""
    return _MARKER.sub("", text) if MARKER_START in text else text


def draw(profile: ModelProfile, rng: random.Random) -> Fault | None:
    """A fault by the profile's rates (one draw per call while any rate is non-zero)."""
    if profile.fault_rate_total <= 0.0:
        return None
    u = rng.random()
    for rate, fault in (
        (profile.rate_429, Fault.RATE_LIMIT),
        (profile.rate_500, Fault.SERVER_ERROR),
        (profile.rate_529, Fault.OVERLOADED),
        (profile.rate_hang, Fault.HANG),
        (profile.rate_malformed, Fault.MALFORMED),
    ):
        if u < rate:
            return fault
        u -= rate
    return None

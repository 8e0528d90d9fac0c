"""Provider simulator: a fake OpenAI / Anthropic HTTP server. It is a simulator, not a model.

It speaks the OpenAI Chat Completions API (`POST /v1/chat/completions`) and the Anthropic
Messages API (`POST /v1/messages`) closely enough that the unmodified `openai` and
`anthropic` SDKs work against it, for offline tests, demos and load tests. Its answers are
canned and deterministic: for inputs found in the eval sets (`evalsets/*.json`) a model of
quality q includes each expected element (or the right label) with probability about q;
everything else gets a plausible generic reply. Latency, context windows and failures
(429, 500, 529, hangs, malformed bodies, context-length, content-policy and auth errors)
follow per-model profiles and per-request `x-sim-*` headers. Nothing here understands
language; do not read quality numbers measured against it as facts about real models.

    from llmrouter.simulator import SimConfig, running
    async with running(SimConfig(latency_ms=0)) as url:
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test")
        anthropic.AsyncAnthropic(base_url=url, api_key="sk-test")
"""

from __future__ import annotations

from llmrouter.simulator.app import create_app, engine_of
from llmrouter.simulator.config import SimConfig
from llmrouter.simulator.engine import INVALID_KEY
from llmrouter.simulator.faults import (
    HEADER_FAULT,
    HEADER_FAULT_MODEL,
    HEADER_FAULT_TIMES,
    HEADER_LATENCY,
    HEADER_RETRY_AFTER,
    Fault,
)
from llmrouter.simulator.profiles import ModelProfile, default_profile_for
from llmrouter.simulator.server import running, serve
from llmrouter.simulator.tokens import estimate_tokens

__all__ = [
    "HEADER_FAULT",
    "HEADER_FAULT_MODEL",
    "HEADER_FAULT_TIMES",
    "HEADER_LATENCY",
    "HEADER_RETRY_AFTER",
    "INVALID_KEY",
    "Fault",
    "ModelProfile",
    "SimConfig",
    "create_app",
    "default_profile_for",
    "engine_of",
    "estimate_tokens",
    "running",
    "serve",
]

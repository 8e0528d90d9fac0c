"""What the cloud protocols (Gemini, Vertex AI, Bedrock) share: one parsed call run through
the engine, with its directives, its journal row and a hang held open like the others."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from llmrouter.simulator import transport
from llmrouter.simulator.engine import Call, Engine, Failure, Outcome, RequestError
from llmrouter.simulator.faults import DirectiveError, Fault
from llmrouter.simulator.keys import ENGINE

__all__ = ["run_call"]


async def run_call(request: web.Request, call: Call) -> Outcome | web.Response:
    """The call's reply or fault, or the response of a hang (held until the client goes).

    Raises RequestError for a simulator directive that cannot be understood."""
    engine: Engine = request.app[ENGINE]
    try:
        directive, prompt = engine.directive(request.headers, call.prompt)
    except DirectiveError as exc:
        raise RequestError(f"simulator: {exc}") from None
    outcome = await engine.run(replace(call, prompt=prompt), directive)
    if isinstance(outcome, Failure) and outcome.fault is Fault.HANG:
        return await transport.hang(request, engine.config.hang_cap_s, lambda: engine.closing)
    return outcome

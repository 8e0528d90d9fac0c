"""The API-neutral core: one simulated call from a parsed request to a reply or a fault.

Order of decisions for a call: authentication (`sk-sim-invalid` is the only bad key) →
directive faults (headers / prompt markers) → the model's context window → rate-based
faults → latency → the answer, cut at a stop sequence and at `max_tokens`. Immediate
failures (401, 400, 429, 529) return without sleeping; a 500 or a malformed body comes
after the sampled latency, like a real server that failed while working. A `hang` is
returned to the HTTP layer, which holds the connection open.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from llmrouter.simulator import faults
from llmrouter.simulator.answers import Answerer, Prompt
from llmrouter.simulator.config import SimConfig
from llmrouter.simulator.evals import EvalIndex
from llmrouter.simulator.faults import Directive, Fault
from llmrouter.simulator.journal import CANCELLED, CallJournal, CallUsage
from llmrouter.simulator.profiles import ModelProfile, resolve_profile
from llmrouter.simulator.prompt_cache import NO_CACHE, Breakpoint, CacheUsage, PromptCache
from llmrouter.simulator.stats import INVALID_REQUEST, OK, Stats
from llmrouter.simulator.tokens import estimate_tokens, truncate_to_tokens

INVALID_KEY = "sk-sim-invalid"
#: a reasoning model thinks this many hidden tokens per visible output token
REASONING_PER_OUTPUT_TOKEN = 2

#: the protocol a call came through; `vertex` is Anthropic's Messages on Vertex AI (billed by
#: Google, so kept out of Anthropic's usage reports)
Api = Literal["openai", "anthropic", "gemini", "bedrock", "vertex"]
Finish = Literal["stop", "length", "stop_sequence"]


@dataclass(frozen=True, slots=True)
class Call:
    """One parsed request, whichever API it came through."""

    api: Api
    model: str
    prompt: Prompt
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    #: Anthropic `cache_control` marks (OpenAI caches prefixes without them)
    cache_breakpoints: tuple[Breakpoint, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    finish: Finish
    stop_sequence: str | None
    prompt_tokens: int
    #: every output token, the reasoning ones included
    completion_tokens: int
    #: the prompt cache's share of prompt_tokens (prompt_cache.py)
    cache: CacheUsage = NO_CACHE
    #: part of completion_tokens: a reasoning model's hidden reasoning
    reasoning_tokens: int = 0
    #: the call drew the `invalid_output` fault: a structured answer breaks its schema
    invalid_output: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    fault: Fault
    prompt_tokens: int = 0
    context_window: int = 0
    retry_after_s: float = 1.0


Outcome = Reply | Failure


class RequestError(ValueError):
    """A request body the real API would reject with 400; `param` names the bad field."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class _ModelState:
    __slots__ = ("answered", "fault_rng", "latency_rng", "mu", "profile", "sigma")

    def __init__(self, model_id: str, profile: ModelProfile, seed: int) -> None:
        self.profile = profile
        self.mu, self.sigma = profile.lognormal_params
        self.fault_rng = random.Random(f"{seed}:faults:{model_id}")
        self.latency_rng = random.Random(f"{seed}:latency:{model_id}")
        #: answers given since the profile was set (its `quality_drop_after_calls`)
        self.answered = 0


def api_key_of(headers: Mapping[str, str]) -> str | None:
    """The key of Anthropic's `x-api-key`, Azure's `api-key` or a bearer token."""
    key = headers.get("x-api-key", headers.get("api-key"))
    if key is not None:
        return key
    auth = headers.get("authorization")
    if auth is not None and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


class Engine:
    """Simulated models: profiles, fault and latency draws, answers and statistics."""

    def __init__(self, config: SimConfig, index: EvalIndex | None = None) -> None:
        self.config = config
        self.profiles: dict[str, ModelProfile] = dict(config.models)
        self.index = index if index is not None else EvalIndex.load(config.eval_dirs)
        self.answerer = Answerer(self.index, seed=config.seed)
        self.stats = Stats()
        self.journal = CallJournal(config.journal_size)
        self.prompt_cache = PromptCache()
        self._states: dict[str, _ModelState] = {}
        self._fault_counts: dict[tuple[str, str, int], int] = {}
        self.closing = False  # set when the server shuts down: hanging calls let go

    # -- administration ----------------------------------------------------------------

    def profile(self, model_id: str) -> ModelProfile:
        return self._state(model_id).profile

    def set_profile(self, model_id: str, profile: ModelProfile) -> None:
        """Replace (or add) a model's profile at runtime; its random streams restart."""
        self.profiles[model_id] = profile
        self._states.clear()

    def reset(self) -> None:
        """Zero the statistics, empty the call journal and restart every random stream and
        `*N` fault counter."""
        self.stats.reset()
        self.journal.clear()
        self.prompt_cache.clear()
        self._states.clear()
        self._fault_counts.clear()

    def _state(self, model_id: str) -> _ModelState:
        state = self._states.get(model_id)
        if state is None:
            profile = resolve_profile(model_id, self.profiles)
            state = self._states[model_id] = _ModelState(model_id, profile, self.config.seed)
        return state

    # -- one call ----------------------------------------------------------------------

    def authorize(self, api: Api, model: str, headers: Mapping[str, str]) -> Failure | None:
        if api_key_of(headers) == INVALID_KEY:
            self.stats.record(api, model, Fault.AUTH.value)
            return Failure(Fault.AUTH)
        return None

    def invalid(self, api: Api, model: str) -> None:
        """Count a request that was rejected as malformed before it reached a model."""
        self.stats.record(api, model, INVALID_REQUEST)

    def directive(self, headers: Mapping[str, str], prompt: Prompt) -> tuple[Directive, Prompt]:
        """The request's simulator directive and its prompt without markers.

        Raises `faults.DirectiveError` for a header or marker that cannot be understood.
        """
        directive = faults.from_headers(headers)
        if faults.MARKER_START not in prompt.text:
            return directive, prompt
        directive = faults.from_markers(prompt.text, directive)
        cleaned = Prompt(
            system=faults.strip_markers(prompt.system),
            messages=tuple((role, faults.strip_markers(text)) for role, text in prompt.messages),
        )
        return directive, cleaned

    async def run(
        self, call: Call, directive: Directive, *, journal_api: str | None = None
    ) -> Outcome:
        """One call, written to the journal from its start to its outcome (under
        `journal_api`, e.g. `openai-batch` for a request of a batch job, else its API)."""
        record = self.journal.begin(
            journal_api or call.api, call.model, call.prompt, time.monotonic()
        )
        try:
            outcome = await self._run(call, directive)
        except BaseException:  # the client went away (or the server stops) mid-call
            self.journal.finish(record, CANCELLED, time.monotonic())
            raise
        if isinstance(outcome, Reply):
            self.journal.finish(record, OK, time.monotonic(), usage=usage_of(outcome))
        else:
            self.journal.finish(record, outcome.fault.value, time.monotonic())
        return outcome

    async def _run(self, call: Call, directive: Directive) -> Outcome:
        state = self._state(call.model)
        profile = state.profile
        prompt_tokens = estimate_tokens(call.prompt.text)
        retry_after = (
            directive.retry_after_s
            if directive.retry_after_s is not None
            else profile.retry_after_s
        )

        fault = self._directed_fault(call, directive)
        if fault is None and prompt_tokens > profile.context_window_tokens:
            fault = Fault.CONTEXT_LENGTH
        if fault is None:
            fault = faults.draw(profile, state.fault_rng)

        invalid_output = fault is Fault.INVALID_OUTPUT  # answered, in a shape nobody asked for
        if invalid_output:
            fault = None
        if fault is not None:
            self.stats.record(call.api, call.model, fault.value)
            if fault in (Fault.SERVER_ERROR, Fault.MALFORMED):
                await self._sleep(state, directive)
            return Failure(fault, prompt_tokens, profile.context_window_tokens, retry_after)

        # Counted before the latency, so a caller that gives up early is still counted.
        self.stats.record(call.api, call.model, Fault.INVALID_OUTPUT if invalid_output else OK)
        await self._sleep(state, directive)
        quality = profile.quality_at(state.answered)
        state.answered += 1
        text = self.answerer.answer(call.model, quality, call.prompt)
        reply = replace(self._finish(text, call, prompt_tokens), invalid_output=invalid_output)
        return self._bill(reply, call, profile)

    def _bill(self, reply: Reply, call: Call, profile: ModelProfile) -> Reply:
        """The usage details of a reply: its prompt cache share and reasoning tokens."""
        if call.api in ("openai", "gemini"):  # both cache long prefixes by themselves
            cache = self.prompt_cache.openai(call.model, call.prompt.text)
        else:
            cache = self.prompt_cache.anthropic(
                call.model, call.prompt.text, call.cache_breakpoints
            )
        reasoning = 0
        if profile.reasoning:
            reasoning = REASONING_PER_OUTPUT_TOKEN * reply.completion_tokens
            if call.max_tokens is not None:
                reasoning = max(0, min(reasoning, call.max_tokens - reply.completion_tokens))
        return replace(
            reply,
            cache=cache,
            reasoning_tokens=reasoning,
            completion_tokens=reply.completion_tokens + reasoning,
        )

    def _directed_fault(self, call: Call, directive: Directive) -> Fault | None:
        if directive.fault is None or not directive.applies_to(call.model):
            return None
        if directive.times is None:
            return directive.fault
        key = (call.model, directive.fault.value, hash(call.prompt.text))
        done = self._fault_counts.get(key, 0)
        if done >= directive.times:
            return None
        self._fault_counts[key] = done + 1
        return directive.fault

    async def _sleep(self, state: _ModelState, directive: Directive) -> None:
        if directive.latency_ms is not None:
            ms = directive.latency_ms
        elif self.config.latency_ms is not None:
            ms = self.config.latency_ms
        else:
            ms = state.latency_rng.lognormvariate(state.mu, state.sigma) * self.config.latency_scale
        if ms > 0:
            await asyncio.sleep(ms / 1000.0)

    @staticmethod
    def _finish(text: str, call: Call, prompt_tokens: int) -> Reply:
        finish: Finish = "stop"
        stop_sequence: str | None = None
        for stop in call.stop:
            cut = text.find(stop) if stop else -1
            if cut >= 0:
                text, finish, stop_sequence = text[:cut], "stop_sequence", stop
        if call.max_tokens is not None:
            text, cut_short = truncate_to_tokens(text, call.max_tokens)
            if cut_short:
                finish, stop_sequence = "length", None
        return Reply(text, finish, stop_sequence, prompt_tokens, estimate_tokens(text))


def usage_of(reply: Reply) -> CallUsage:
    """A reply's usage by token class, for the call journal and the usage reports."""
    return CallUsage(
        input_tokens=reply.prompt_tokens,
        cache_read_tokens=reply.cache.read_tokens,
        cache_write_5m_tokens=reply.cache.write_5m_tokens,
        cache_write_1h_tokens=reply.cache.write_1h_tokens,
        output_tokens=reply.completion_tokens,
        reasoning_tokens=reply.reasoning_tokens,
    )

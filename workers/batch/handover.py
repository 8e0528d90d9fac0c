"""The router stage's hand-over of a batch-priority request to a provider batch job.

A request is handed over when its priority is `batch`, its route's first model has
`batch_api`, its deadline (if any) leaves the job its expected completion time, and it is
not a request a job already gave back (`FALLBACK_HEADER`). It is routed and rendered as a
realtime call would be — the route's decision, the task's prompt, the provider body the
SDK client would post — and becomes one entry on `llm.batches`, keyed by the record it
came in, in the transaction that commits that record's offset (the router's outputs).

A request id is answered once, whatever the path (workers/batch/in_job.py): an id with an
answer already is routed as usual (the router's `route_once` publishes the earlier
answer); an id in a job already makes any other record of it (batch or realtime
priority) a copy that gets no call and no answer of its own, or a `duplicate_conflict`
when its input differs.
"""

from __future__ import annotations

from datetime import timedelta

from aiokafka import ConsumerRecord

from llmrouter.core import tracing
from llmrouter.core.errors import DuplicateConflict
from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.calls import temperature_for
from llmrouter.router.config import RouterConfig, TaskSpec
from llmrouter.router.config_routes import LearnedRoute, route_models
from llmrouter.router.decision import plan, select_route
from llmrouter.router.prompts import render_prompt
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.call import SdkProvider
from llmrouter.router.state.dedupe import DUPLICATE_CONFLICT, SeenResult, input_fingerprint
from llmrouter.schemas import ClassifiedRequest, LLMRequest, Priority, encode, utc_now
from llmrouter.schemas.batches import BatchEntry, entry_key
from llmrouter.schemas.topics import BATCHES_TOPIC
from llmrouter.workers.accounting import carried_by_classifier
from llmrouter.workers.batch.in_job import InJob, in_job_marks
from llmrouter.workers.metrics import METRICS

__all__ = ["FALLBACK_HEADER", "BatchHandover"]

#: the header of a request a batch job gave back to be routed as a realtime request
FALLBACK_HEADER = "llmrouter-batch-fallback"


class BatchHandover:
    def __init__(self, topic: str = BATCHES_TOPIC) -> None:
        self.topic = topic
        #: whether each task may batch (`_may_batch`), decided once per config: a reload's
        #: config decides again
        self._may_batch: dict[str, bool] = {}
        self._decided_on: RouterConfig | None = None

    async def hand_over(
        self,
        router: RoutingEngine,
        request: LLMRequest,
        task: TaskSpec,
        record: ConsumerRecord[bytes, bytes],
    ) -> list[Output] | None:
        """The entry to publish instead of calling, nothing for a copy of a request in a
        job, or None: route it as usual."""
        if any(name == FALLBACK_HEADER for name, _ in record.headers or ()):
            return None  # given back by its job: routed as a realtime request now
        origin = f"{record.topic}:{record.partition}:{record.offset}"
        entry = await self._entry(router, request, task, record, origin)
        if entry is None:
            return await self._copy_of_job(router, request, origin)
        fingerprint = input_fingerprint(request)
        claim = await router.state.dedupe.claim(
            request.request_id,
            origin,
            # as long as a realtime owner's whole request may take, as `route_once` waits
            wait_s=router.config.defaults.timeout_s * router.config.defaults.max_calls_per_request,
            task=request.task,
            fingerprint=fingerprint,
        )
        if isinstance(claim, SeenResult):
            return None  # answered already (or a conflict): `route_once` says so
        try:
            held = await in_job_marks(router.state).mark(
                request.task, request.request_id, InJob(origin, fingerprint)
            )
        finally:
            await claim.release()
        if held is not None and held.origin != origin:
            return _copy(request, held, fingerprint)
        return [Output(self.topic, encode(entry), entry_key(origin))]

    async def _copy_of_job(
        self, router: RoutingEngine, request: LLMRequest, origin: str
    ) -> list[Output] | None:
        """Nothing to publish when the request's id is in a job for another record; None
        (route it as usual) otherwise. Only a task one of whose routes names a model with
        `batch_api` asks the store."""
        if not self._may(router, request.task):
            return None
        held = await in_job_marks(router.state).get(request.task, request.request_id)
        if held is None or held.origin == origin:
            return None
        return _copy(request, held, input_fingerprint(request))

    def _may(self, router: RoutingEngine, task: str) -> bool:
        """`_may_batch` of the task, decided once per config (not per record)."""
        if router.config is not self._decided_on:
            self._decided_on, self._may_batch = router.config, {}
        may = self._may_batch.get(task)
        if may is None:
            may = self._may_batch[task] = _may_batch(router, router.config.tasks[task])
        return may

    async def _entry(
        self,
        router: RoutingEngine,
        request: LLMRequest,
        task: TaskSpec,
        record: ConsumerRecord[bytes, bytes],
        origin: str,
    ) -> BatchEntry | None:
        """The request as a batch entry, or None when it is not batched."""
        if request.priority is not Priority.BATCH:
            return None
        await router.budget.refresh(request.task)
        selected = select_route(task, request, router.budget.snapshot())
        if isinstance(selected.route, LearnedRoute):
            return None
        complexity = request.complexity if isinstance(request, ClassifiedRequest) else None
        decision = plan(selected, request, complexity)
        model = decision.steps[0].model
        spec = router.config.models[model]
        policy = spec.batch_api
        if policy is None:
            return None
        ready_by = utc_now() + timedelta(seconds=policy.expected_completion_s)
        if request.deadline is not None and request.deadline < ready_by:
            return None
        client = router.pool.client_for(model)
        if not isinstance(client, SdkProvider):
            return None
        defaults = router.config.defaults
        prompt = render_prompt(task.prompt, model, request.input, request.context)
        chat = ChatRequest(
            model_id=spec.model_id,
            system=prompt.system,
            user=prompt.user,
            max_output_tokens=task.max_output_tokens
            or spec.max_output_tokens
            or defaults.max_output_tokens,
            temperature=temperature_for(spec, defaults),
            timeout_s=defaults.timeout_s,
            json_mode=prompt.json_mode,
            cache_prefix_chars=prompt.static_chars,
            cache_ttl=prompt.cache_ttl,
        )
        if not isinstance(request, ClassifiedRequest):  # read straight from llm.requests
            request = ClassifiedRequest(**request.model_dump(exclude={"schema_version"}))
        return BatchEntry(
            request=request,
            model=model,
            provider=spec.provider.value,
            route=f"{decision.label} batch-api",
            body=client.body(chat),
            carried=carried_by_classifier(record, len(request.classifier_attempts)),
            origin=origin,
            traceparent=_traceparent(record),
        )


def _may_batch(router: RoutingEngine, task: TaskSpec) -> bool:
    """True when a route of `task` names a model with `batch_api`."""
    routes = [task.route, *task.tiers.values(), task.batch]
    if task.budget is not None:
        routes.append(task.budget.downgrade_to)
    models = router.config.models
    return any(
        (spec := models.get(name)) is not None and spec.batch_api is not None
        for route in routes
        if route is not None
        for _, name in route_models(route)
    )


def _copy(request: LLMRequest, held: InJob, fingerprint: str) -> list[Output]:
    """A copy of a request in a job: no call, no answer of its own (the job's answer is the
    one); with another input, a `duplicate_conflict` (a failed result and a dead letter)."""
    if held.fingerprint and fingerprint and held.fingerprint != fingerprint:
        raise DuplicateConflict(
            f"{DUPLICATE_CONFLICT}: request id {request.request_id!r} is in a batch job for "
            f"another input of task {request.task!r}; no call was made",
            request_id=request.request_id,
        )
    METRICS.duplicates.labels(request.task, "in_batch_job").inc()
    return []


def _traceparent(record: ConsumerRecord[bytes, bytes]) -> str | None:
    for name, value in tracing.headers_with_context(record.headers):
        if name == "traceparent" and value:
            return value.decode(errors="replace")
    return None

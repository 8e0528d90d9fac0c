"""The router stage's hand-over of a batch-priority request to a provider batch job.

A request is handed over when its priority is `batch`, its route's first model has
`batch_api`, its deadline (if any) leaves the job its expected completion time, and it is
not a request a job already gave back (`FALLBACK_HEADER`). It is routed and rendered as a
realtime call would be — the route's decision, the task's prompt, the provider body the
SDK client would post — and becomes one entry on `llm.batches`, keyed by the record it
came in, in the transaction that commits that record's offset (the router's outputs).
"""

from __future__ import annotations

from datetime import timedelta

from aiokafka import ConsumerRecord

from llmrouter.core import tracing
from llmrouter.kafkaio.transactions import Output
from llmrouter.router import RoutingEngine
from llmrouter.router.calls import temperature_for
from llmrouter.router.config import TaskSpec
from llmrouter.router.config_routes import LearnedRoute
from llmrouter.router.decision import plan, select_route
from llmrouter.router.prompts import render_prompt
from llmrouter.router.providers.base import ChatRequest
from llmrouter.router.providers.call import SdkProvider
from llmrouter.schemas import ClassifiedRequest, LLMRequest, Priority, encode, utc_now
from llmrouter.schemas.batches import BatchEntry, entry_key
from llmrouter.schemas.topics import BATCHES_TOPIC
from llmrouter.workers.accounting import carried_by_classifier

__all__ = ["FALLBACK_HEADER", "BatchHandover"]

#: the header of a request a batch job gave back to be routed as a realtime request
FALLBACK_HEADER = "llmrouter-batch-fallback"


class BatchHandover:
    def __init__(self, topic: str = BATCHES_TOPIC) -> None:
        self.topic = topic

    async def hand_over(
        self,
        router: RoutingEngine,
        request: LLMRequest,
        task: TaskSpec,
        record: ConsumerRecord[bytes, bytes],
    ) -> list[Output] | None:
        """The entry to publish instead of calling, or None: route it as usual."""
        if request.priority is not Priority.BATCH:
            return None
        if any(name == FALLBACK_HEADER for name, _ in record.headers or ()):
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
        origin = f"{record.topic}:{record.partition}:{record.offset}"
        if not isinstance(request, ClassifiedRequest):  # read straight from llm.requests
            request = ClassifiedRequest(**request.model_dump(exclude={"schema_version"}))
        entry = BatchEntry(
            request=request,
            model=model,
            provider=spec.provider.value,
            route=f"{decision.label} batch-api",
            body=client.body(chat),
            carried=carried_by_classifier(record, len(request.classifier_attempts)),
            origin=origin,
            traceparent=_traceparent(record),
        )
        return [Output(self.topic, encode(entry), entry_key(origin))]


def _traceparent(record: ConsumerRecord[bytes, bytes]) -> str | None:
    for name, value in tracing.headers_with_context(record.headers):
        if name == "traceparent" and value:
            return value.decode(errors="replace")
    return None

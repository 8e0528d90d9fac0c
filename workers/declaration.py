"""The workers declared as FastStream apps: the topics, message schemas and groups that
`llmrouter asyncapi` documents, and an in-memory twin of the pipeline for fast tests
(`faststream.kafka.TestKafkaBroker`).

Production runs the same two steps (`classify_request`, `route_request`) under
`workers/runtime.py`, which adds what FastStream cannot express: transactions holding
outputs and offsets together, and prefix commits over concurrent in-partition work.
"""

from __future__ import annotations

import yaml
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from llmrouter import __version__
from llmrouter.core.errors import AllModelsFailed
from llmrouter.router import RoutingEngine
from llmrouter.schemas import (
    ClassifiedRequest,
    CostEvent,
    DeadLetter,
    LLMRequest,
    LLMResult,
    classified_topic,
    results_topic,
)
from llmrouter.schemas.topics import (
    CLASSIFIED_PATTERN,
    COSTS_TOPIC,
    DLQ_TOPIC,
    REQUESTS_PATTERN,
    task_topic_template,
)
from llmrouter.workers.handlers import classify_request, route_request
from llmrouter.workers.launch import CLASSIFIER_GROUP, ROUTER_GROUP
from llmrouter.workers.outputs import cost_events

__all__ = ["build_apps", "render_asyncapi", "specification"]

DESCRIPTION = """\
Kafka-native multi-model LLM router. Publish an LLMRequest to `llm.requests.<task>`
(key: request_id); read its LLMResult from `llm.results.<task>` and one CostEvent per
provider call from `llm.costs`, with isolation.level=read_committed. Messages that cannot
be processed go to `llm.dlq` with the reason.
"""


def build_apps(
    router: RoutingEngine, broker: KafkaBroker | None = None
) -> tuple[FastStream, KafkaBroker]:
    broker = broker or KafkaBroker("localhost:9092")

    results = broker.publisher(
        task_topic_template("results"),
        title="results",
        description="One LLMResult per request.",
        schema=LLMResult,
    )
    costs = broker.publisher(
        COSTS_TOPIC,
        title="costs",
        description="One CostEvent per provider call or cache hit.",
        schema=CostEvent,
    )
    broker.publisher(
        DLQ_TOPIC,
        title="dead letters",
        description="Messages that could not be processed.",
        schema=DeadLetter,
    )
    classified = broker.publisher(
        task_topic_template("classified"),
        title="classified",
        description="Requests with their complexity.",
        schema=ClassifiedRequest,
    )

    @broker.subscriber(
        pattern=REQUESTS_PATTERN,
        group_id=CLASSIFIER_GROUP,
        title="requests",
        description="LLM work, one topic per task.",
    )
    async def classifier(request: LLMRequest) -> None:
        out = await classify_request(router, request)
        await broker.publish(out, classified_topic(out.task), key=out.request_id.encode())

    @broker.subscriber(
        pattern=CLASSIFIED_PATTERN, group_id=ROUTER_GROUP, title="classified requests"
    )
    async def routing(request: ClassifiedRequest) -> None:
        try:
            result = await route_request(router, request)
        except AllModelsFailed as failure:
            result = failure.result
        await broker.publish(result, results_topic(result.task), key=result.request_id.encode())
        for event in cost_events(result):
            await broker.publish(event, COSTS_TOPIC, key=result.request_id.encode())

    del results, costs, classified  # declared for the specification; sent by topic name
    return FastStream(broker), broker


def specification(router: RoutingEngine) -> AsyncAPI:
    _, broker = build_apps(router)
    return AsyncAPI(
        broker,
        title="llmrouter",
        version=__version__,
        description=DESCRIPTION,
        schema_version="3.0.0",
    )


def render_asyncapi() -> str:
    """The checked-in docs/asyncapi.yaml; independent of any routing config or broker."""
    from llmrouter.router.config_loader import EXAMPLE_CONFIG, load_config

    raw = specification(RoutingEngine(load_config(EXAMPLE_CONFIG))).to_specification().to_yaml()
    # FastStream's channel order follows set iteration, which changes between processes.
    return yaml.safe_dump(yaml.safe_load(raw), sort_keys=True, allow_unicode=True)

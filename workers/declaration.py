"""The AsyncAPI document of the workers' topics: `llmrouter asyncapi`, docs/asyncapi.yaml.

The topics, message schemas and consumer groups are declared on a FastStream KafkaBroker
only to render the specification: the subscribers' handlers do nothing and the broker never
connects. The workers themselves run on the transactional runtime (`llmrouter.runtime`,
started by workers/launch.py): outputs and offsets committed in one transaction, and
prefix commits over concurrent in-partition work, which FastStream cannot express.
"""

from __future__ import annotations

from importlib.metadata import version

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from llmrouter.schemas import ClassifiedRequest, CostEvent, DeadLetter, LLMRequest, LLMResult
from llmrouter.schemas.scores import SCORES_TOPIC, Score
from llmrouter.schemas.topics import (
    CLASSIFIED_PATTERN,
    COSTS_TOPIC,
    DLQ_TOPIC,
    REQUESTS_PATTERN,
    task_topic_template,
)
from llmrouter.workers.launch import CLASSIFIER_GROUP, ROUTER_GROUP

#: the address of any task's shadow-answer topic
SHADOW_TOPIC_TEMPLATE = "llm.shadow.{task}"

__all__ = ["declared_broker", "render_asyncapi", "specification"]

DESCRIPTION = """\
Kafka-native multi-model LLM router. Publish an LLMRequest to `llm.requests.<task>`
(key: request_id); read its LLMResult from `llm.results.<task>` and one CostEvent per
provider call from `llm.costs`, with isolation.level=read_committed. Messages that cannot
be processed go to `llm.dlq` with the reason.
"""


def declared_broker() -> KafkaBroker:
    """A broker (never connected) declaring what the workers read and publish."""
    broker = KafkaBroker("localhost:9092")
    broker.publisher(
        task_topic_template("results"),
        title="results",
        description="One LLMResult per request.",
        schema=LLMResult,
    )
    broker.publisher(
        COSTS_TOPIC,
        title="costs",
        description="One CostEvent per provider call or cache hit.",
        schema=CostEvent,
    )
    broker.publisher(
        SCORES_TOPIC,
        title="scores",
        description="How good an answer was, 0..1 (the online judge, labels and feedback), "
        "keyed by <task>/<model>; published by the quality worker.",
        schema=Score,
    )
    broker.publisher(
        SHADOW_TOPIC_TEMPLATE,
        title="shadow answers",
        description="Candidate models' answers to a sample of answered requests (results "
        "with source: shadow); published by the quality worker, never sent to clients.",
        schema=LLMResult,
    )
    broker.publisher(
        DLQ_TOPIC,
        title="dead letters",
        description="Messages that could not be processed.",
        schema=DeadLetter,
    )
    broker.publisher(
        task_topic_template("classified"),
        title="classified",
        description="Requests with their complexity.",
        schema=ClassifiedRequest,
    )

    # The handlers declare the message each subscriber reads (by their parameter's type);
    # the classifier and router workers do the work. A docstring would be a description.
    @broker.subscriber(
        pattern=REQUESTS_PATTERN,
        group_id=CLASSIFIER_GROUP,
        title="requests",
        description="LLM work, one topic per task.",
    )
    async def classifier(request: LLMRequest) -> None: ...

    @broker.subscriber(
        pattern=CLASSIFIED_PATTERN, group_id=ROUTER_GROUP, title="classified requests"
    )
    async def router(request: ClassifiedRequest) -> None: ...

    return broker


def specification() -> AsyncAPI:
    return AsyncAPI(
        declared_broker(),
        title="llmrouter",
        version=version("llmrouter"),
        description=DESCRIPTION,
        schema_version="3.0.0",
    )


def render_asyncapi() -> str:
    """The checked-in docs/asyncapi.yaml; independent of any routing config or broker."""
    raw = specification().to_specification().to_yaml()
    # FastStream's channel order follows set iteration, which changes between processes.
    return yaml.safe_dump(yaml.safe_load(raw), sort_keys=True, allow_unicode=True)

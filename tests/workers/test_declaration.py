"""The AsyncAPI document: rendered from the topic declarations, checked in, and the one
place FastStream is used."""

from __future__ import annotations

import re
from pathlib import Path

from faststream.kafka.subscriber.usecase import LogicSubscriber

from llmrouter.schemas import ClassifiedRequest, LLMRequest
from llmrouter.schemas.topics import CLASSIFIED_PATTERN, REQUESTS_PATTERN
from llmrouter.workers.declaration import declared_broker, render_asyncapi
from llmrouter.workers.launch import CLASSIFIER_GROUP, ROUTER_GROUP

REPO = Path(__file__).resolve().parents[2]
PACKAGES = [
    *("cli", "core", "evaluation", "kafkaio", "localkafka", "operations", "producers"),
    *("router", "runtime", "schemas", "simulator", "workers"),
]


def test_checked_in_asyncapi_is_current() -> None:
    """Regenerate with `make schemas` when this fails."""
    on_disk = (REPO / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert on_disk == render_asyncapi(), "docs/asyncapi.yaml is stale: run `make schemas`"


def test_asyncapi_names_every_topic() -> None:
    text = render_asyncapi()
    for topic in (
        REQUESTS_PATTERN,
        CLASSIFIED_PATTERN,
        "llm.results.{task}",
        "llm.costs",
        "llm.dlq",
    ):
        assert f"address: {topic}" in text
    for model in ("LLMRequest", "ClassifiedRequest", "LLMResult", "CostEvent", "DeadLetter"):
        assert f"$ref: '#/components/schemas/{model}'" in text


def test_the_subscribers_are_the_workers_groups() -> None:
    subscribers = declared_broker().subscribers
    assert all(isinstance(s, LogicSubscriber) for s in subscribers)
    groups = {s.group_id for s in subscribers if isinstance(s, LogicSubscriber)}
    assert groups == {CLASSIFIER_GROUP, ROUTER_GROUP}
    text = render_asyncapi()
    assert text.count(f"$ref: '#/components/schemas/{LLMRequest.__name__}'") == 1
    assert text.count(f"$ref: '#/components/schemas/{ClassifiedRequest.__name__}'") == 2


def test_faststream_is_used_only_for_the_document() -> None:
    """The workers run on llmrouter.runtime; FastStream only renders docs/asyncapi.yaml."""
    users = sorted(
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if re.search(r"^\s*(from|import) faststream", path.read_text(encoding="utf-8"), re.M)
    )
    assert users == ["workers/declaration.py"]

"""A moderation task with a response schema on the real broker: the workers publish only
schema-valid answers on its results topic; requests whose first model answers outside the
schema (the simulator's `invalid_output` fault) escalate to the next step, and the invalid
call is still billed on llm.costs with its outcome."""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema
import orjson
import pytest

from llmrouter.kafkaio.admin import ensure_topics
from llmrouter.kafkaio.settings import KafkaSettings
from llmrouter.producers import RequestProducer
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import (
    COSTS_TOPIC,
    AttemptOutcome,
    CostEvent,
    LLMResult,
    ResultStatus,
    results_topic,
)
from llmrouter.schemas.topics import router_topics
from tests.factories import catalog, routing_config
from tests.workers.conftest import Pipeline, read_topic

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["safe", "unsafe"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["label", "confidence"],
    "additionalProperties": False,
}


async def test_only_schema_valid_answers_reach_the_results_topic(
    kafka_bootstrap: str, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMROUTER_SIMULATOR_URL", sim_url)
    suffix = uuid.uuid4().hex[:10]
    task = f"mod-{suffix}"
    text = routing_config(
        defaults={"cache": {"enabled": False}},
        models=catalog("cheap", "mid"),
        tasks={
            task: {
                "prompt": {
                    "template": "Is this content safe or unsafe?\n{input}",
                    "response_format": "json",
                    "response_schema": SCHEMA,
                },
                "route": {"strategy": "cascade", "steps": [{"model": "cheap"}, {"model": "mid"}]},
            }
        },
    )
    config = parse_config(text)
    await ensure_topics(kafka_bootstrap, router_topics(config.tasks, partitions=1))
    p = Pipeline(
        bootstrap=kafka_bootstrap,
        config=config,
        config_text=text,
        tasks={"mod": task},
        group_prefix=f"t{suffix}-",
        suffix=suffix,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
    )
    try:
        await p.start()
        invalid_first: set[str] = set()
        sent: set[str] = set()
        async with RequestProducer.from_env(kafka_bootstrap) as producer:
            for i in range(4):
                sent.add(await producer.submit(task, f"thanks for the post {i}"))
                rid = await producer.submit(
                    task, f"[[sim:fault=invalid_output@haiku]] you are an idiot {i}"
                )
                sent.add(rid)
                invalid_first.add(rid)
        results = await read_topic(
            kafka_bootstrap,
            [results_topic(task)],
            LLMResult,
            until=lambda rs: sent <= {r.request_id for r in rs},
        )
        costs = await read_topic(
            kafka_bootstrap,
            [COSTS_TOPIC],
            CostEvent,
            until=lambda evs: sum(e.request_id in invalid_first for e in evs) >= 2 * 4,
        )
    finally:
        await p.stop_all()
    assert {r.request_id for r in results} == sent
    for result in results:
        assert result.status is ResultStatus.OK, result.error
        jsonschema.validate(orjson.loads(result.output or ""), SCHEMA)
        outcomes = [a.outcome for a in result.attempts]
        if result.request_id in invalid_first:
            assert outcomes == [AttemptOutcome.INVALID_OUTPUT, AttemptOutcome.OK]
            assert (result.model, result.escalated) == ("mid", True)
        else:
            assert outcomes == [AttemptOutcome.OK]
            assert result.model == "cheap"
    billed = [e for e in costs if e.request_id in invalid_first and e.model == "cheap"]
    assert len(billed) == 4
    assert all(e.outcome is AttemptOutcome.INVALID_OUTPUT and e.cost_usd > 0 for e in billed)

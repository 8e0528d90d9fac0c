"""Structured answers: a moderation task declares a JSON Schema for its answers. Each
provider is asked natively (OpenAI json_schema, Anthropic and Bedrock forced tools, Gemini's
response schema), every answer kept follows the schema, and a model that answers outside
it (the simulator's `invalid_output` fault) is a failed step the cascade escalates from,
counted by task and model; at the last step the result fails with `invalid_output`. Real
SDKs over HTTP to the simulator."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest
from prometheus_client import CollectorRegistry

from llmrouter.core.errors import ConfigError
from llmrouter.router.config_loader import parse_config
from llmrouter.schemas import AttemptOutcome, LLMRequest, ResultStatus
from llmrouter.workers.metrics import Metrics
from tests.factories import CATALOG, routing_config
from tests.router.conftest import MakeRouter
from tests.router.providers.cloud import CLOUD_MODELS

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["safe", "unsafe"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["label", "confidence"],
    "additionalProperties": False,
}
COMMENTS = [
    "thanks, this was really useful",
    "you are a complete idiot",
    "great write-up, I learned a lot",
    "I will find you and hurt you",
]
MODELS = {**{n: dict(CATALOG[n]) for n in ("cheap", "mid")}, **CLOUD_MODELS}


def _moderation(*steps: str) -> str:
    return routing_config(
        models={name: MODELS[name] for name in steps},
        defaults={"cache": {"enabled": False}},
        tasks={
            "moderation": {
                "prompt": {
                    "system": "You are a content moderator.",
                    "template": "Is this content safe or unsafe?\n{input}",
                    "response_format": "json",
                    "response_schema": SCHEMA,
                },
                "route": {
                    "strategy": "cascade",
                    "steps": [{"model": name} for name in steps],
                },
            }
        },
    )


@pytest.mark.parametrize(
    "model",
    ["cheap", "mid", "gemini-flash", "vertex-flash", "bedrock-haiku", "vertex-haiku", "nova-lite"],
)
async def test_every_answer_kept_follows_the_schema(make_router: MakeRouter, model: str) -> None:
    router = await make_router(_moderation(model))
    for number, comment in enumerate(COMMENTS):
        routed = await router.route(
            LLMRequest(request_id=f"{model}-{number}", task="moderation", input=comment)
        )
        assert routed.result.status is ResultStatus.OK, routed.failure
        answer = orjson.loads(routed.result.output or "")
        jsonschema.validate(answer, SCHEMA)
        assert [a.outcome for a in routed.result.attempts] == [AttemptOutcome.OK]


async def test_an_invalid_answer_escalates_to_the_next_step(make_router: MakeRouter) -> None:
    metrics = Metrics(CollectorRegistry())
    router = await make_router(_moderation("cheap", "mid"))
    routed = await router.route(
        LLMRequest(
            request_id="invalid-then-valid",
            task="moderation",
            # only the first step's model (claude-3-haiku) answers outside the schema
            input="[[sim:fault=invalid_output@haiku]] you are a complete idiot",
        )
    )
    result = routed.result
    assert result.status is ResultStatus.OK, routed.failure
    assert result.model == "mid"
    assert result.escalated
    first, second = result.attempts
    assert (first.model, first.outcome) == ("cheap", AttemptOutcome.INVALID_OUTPUT)
    assert "invalid_output: the answer breaks the schema at label" in (first.error or "")
    assert first.cost_usd > 0  # answered, so billed
    assert (second.model, second.outcome) == ("mid", AttemptOutcome.OK)
    jsonschema.validate(orjson.loads(result.output or ""), SCHEMA)
    metrics.observe_result(result)
    counted = metrics.registry.get_sample_value(
        "llmrouter_invalid_outputs_total", {"task": "moderation", "model": "cheap"}
    )
    assert counted == 1


@pytest.mark.parametrize("last", ["mid", "gemini-flash", "nova-lite"])
async def test_an_invalid_answer_at_the_last_step_fails_the_request(
    make_router: MakeRouter, last: str
) -> None:
    router = await make_router(_moderation("cheap", last))
    routed = await router.route(
        LLMRequest(
            request_id=f"all-invalid-{last}",
            task="moderation",
            input="[[sim:fault=invalid_output]] you are a complete idiot",
        )
    )
    result = routed.result
    assert result.status is ResultStatus.FAILED
    assert result.output is None
    assert [a.outcome for a in result.attempts] == [AttemptOutcome.INVALID_OUTPUT] * 2
    assert "invalid_output" in (result.error or "")
    assert routed.failure is not None  # every model failed: dead-lettered with its errors


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "object", "properties": {"label": {"type": "nonsense"}}},
            "not a valid JSON Schema",
        ),
        ({"type": "string"}, "must be an object schema"),
    ],
)
def test_a_bad_schema_is_a_config_error(schema: dict[str, Any], message: str) -> None:
    config = routing_config(
        models={"mid": MODELS["mid"]},
        tasks={
            "moderation": {
                "prompt": {"response_schema": schema},
                "route": {"strategy": "static", "model": "mid"},
            }
        },
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(config)
    assert message in str(caught.value)
    assert caught.value.key is not None
    assert "tasks.moderation.prompt.response_schema" in caught.value.key

"""Structured answers: a task's `prompt.response_schema` checked at config load, and every
answer checked against it.

The schema is a JSON Schema (any draft `jsonschema` knows; its `$schema` picks one, else
the newest) whose top level describes an object: Anthropic's and Bedrock's forced tools
take only object inputs. Each provider is asked for it natively (router/providers/
structured.py); the answer is still checked here, since a provider may ignore the request
or a model fill it badly. An answer that is not JSON, or breaks the schema, is the step's
`InvalidOutput`: the cascade moves on to its next model, and with none left the result is
`failed` with that error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson

from llmrouter.core.errors import InvalidOutput

__all__ = ["check_answer", "schema_problem"]

#: the longest part of a validation message kept in an error (the answer is not quoted)
_MAX_PATH_CHARS = 120


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why `schema` cannot be a task's response schema, or None when it can."""
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(dict(schema))
    except exceptions.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"not a valid JSON Schema{f' at {where}' if where else ''}: {exc.message}"
    if schema.get("type") != "object":
        return "the top level must be an object schema (`type: object`)"
    return None


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    from jsonschema import validators

    schema = orjson.loads(schema_json)
    return validators.validator_for(schema)(schema)


def check_answer(text: str, schema: Mapping[str, Any], *, model: str, provider: str) -> None:
    """Raise InvalidOutput unless `text` is JSON that follows `schema`. The error says
    where the answer breaks the schema and how, never the answer itself."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidOutput(
            "invalid_output: the answer is not JSON", model=model, provider=provider
        ) from None
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    raise InvalidOutput(
        f"invalid_output: the answer breaks the schema at {where[:_MAX_PATH_CHARS]} "
        f"({error.validator})",
        model=model,
        provider=provider,
    )

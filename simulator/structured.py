"""Structured answers: the reply shaped as a JSON value valid against the schema a request
asked for (OpenAI `response_format` json_schema, Anthropic and Bedrock forced tools, Gemini
`responseSchema`), or deliberately invalid against it when the call drew the
`invalid_output` fault.

The answer keeps what the simulated model said where the schema allows it (a JSON reply's
fields, or a plain reply as the `label` / `answer` string) and fills the rest with the
simplest valid value: an enum's first member, a number's minimum, an empty string.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from llmrouter.simulator.engine import Reply

__all__ = [
    "answer_object",
    "answer_text",
    "anthropic_reply",
    "forced_tool",
    "openai_schema",
    "shaped",
]

_TEXT_FIELDS = ("label", "answer", "text", "category")


def answer_text(reply: Reply, schema: dict[str, Any] | None) -> str:
    """The reply's text: as it was without a schema, else the JSON of `answer_object`."""
    if schema is None:
        return "(simulated invalid output)" if reply.invalid_output else reply.text
    return orjson.dumps(answer_object(reply, schema)).decode()


def answer_object(reply: Reply, schema: dict[str, Any]) -> Any:
    said = _said(reply.text)
    if reply.invalid_output:
        return _invalid(schema)
    return _conform(said, schema)


def _said(text: str) -> Any:
    try:
        value = orjson.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    plain = text.strip()
    return dict.fromkeys(_TEXT_FIELDS, plain)


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if isinstance(kind, str):
        return [kind]
    if "properties" in schema:
        return ["object"]
    return []


def _conform(value: Any, schema: dict[str, Any]) -> Any:
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return value if value in enum else enum[0]
    for option_key in ("anyOf", "oneOf"):
        options = schema.get(option_key)
        if isinstance(options, list) and options and isinstance(options[0], dict):
            return _conform(value, options[0])
    types = _types(schema)
    kind = types[0].lower() if types else None
    if kind == "object":
        properties = schema.get("properties") or {}
        source = value if isinstance(value, dict) else {}
        required = set(schema.get("required") or ())
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in source:
                out[name] = _conform(source[name], sub)
            elif name in required:
                out[name] = _conform(None, sub)
        return out
    if kind == "array":
        raw_items = schema.get("items")
        items: dict[str, Any] = raw_items if isinstance(raw_items, dict) else {}
        listed = value if isinstance(value, list) else []
        out_list = [_conform(v, items) for v in listed]
        while len(out_list) < int(schema.get("minItems", 0)):
            out_list.append(_conform(None, items))
        return out_list
    if kind in ("number", "integer"):
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        low, high = schema.get("minimum"), schema.get("maximum")
        if number is None:
            number = low if low is not None else 0
        if low is not None:
            number = max(number, low)
        if high is not None:
            number = min(number, high)
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return value if isinstance(value, bool) else False
    if kind == "null":
        return None
    text = value if isinstance(value, str) else ""
    return text.ljust(int(schema.get("minLength", 0)), "x")


def _invalid(schema: dict[str, Any]) -> Any:
    """A value the schema rejects: its first property of the wrong type (or missing)."""
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        name, sub = next(iter(properties.items()))
        wrong: Any = 12345 if "string" in _types(sub) or "enum" in sub else "invalid"
        return {name: wrong}
    return "invalid" if "string" not in _types(schema) else 12345


def forced_tool(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(name, input schema) of the tool an Anthropic Messages body forces, if any."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") != "tool":
        return None
    name = choice.get("name")
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("name") == name:
            schema = tool.get("input_schema")
            return str(name), schema if isinstance(schema, dict) else {}
    return None


def anthropic_reply(body: dict[str, Any], reply: Reply, answer: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic answer `answer` (reply_body's) as a forced tool's call when the request
    `body` forced one: its `input` is the structured answer."""
    forced = forced_tool(body)
    if forced is None:
        if not reply.invalid_output:
            return answer
        return {**answer, "content": [{"type": "text", "text": answer_text(reply, None)}]}
    name, schema = forced
    block = {"type": "tool_use", "id": "toolu_sim", "name": name}
    block["input"] = answer_object(reply, schema)
    return {**answer, "content": [block], "stop_reason": "tool_use"}


def openai_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a Chat Completions body's `response_format: json_schema`, if any."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else {}


def shaped(reply: Reply, schema: dict[str, Any] | None) -> Reply:
    """The reply with its text as the structured answer (or the invalid one) it must be."""
    if schema is None and not reply.invalid_output:
        return reply
    return replace(reply, text=answer_text(reply, schema))

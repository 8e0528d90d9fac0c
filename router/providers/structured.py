"""Structured answers: how each provider is asked for an answer that follows a JSON Schema
(the task's `prompt.response_schema`), and how the answer is read back as JSON text.

- OpenAI (and Azure OpenAI): `response_format: {"type": "json_schema", "json_schema":
  {"name", "schema", "strict": false}}`; the answer is the message's content.
- Anthropic (and Anthropic on Bedrock or Vertex AI): one tool, `answer`, whose input
  schema is the answer's, forced by `tool_choice`; the answer is that tool call's input.
- Bedrock Converse: the same tool in `toolConfig`, forced by `toolChoice`.
- Gemini: `response_mime_type: application/json` with `response_json_schema`
  (gemini_client.py).

The router validates every such answer against the schema (router/answer_schema.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = [
    "ANSWER_TOOL",
    "anthropic_tool_fields",
    "converse_tool_config",
    "openai_response_format",
    "tool_input_text",
]

#: the name of the tool whose input is the structured answer
ANSWER_TOOL = "answer"
_DESCRIPTION = "Give the answer: its input is the whole answer, following the schema."


def openai_response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    # strict mode would refuse schemas outside OpenAI's subset; ours are validated anyway
    return {
        "type": "json_schema",
        "json_schema": {"name": ANSWER_TOOL, "schema": dict(schema), "strict": False},
    }


def anthropic_tool_fields(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The `tools` and `tool_choice` fields of a Messages body."""
    tool = {"name": ANSWER_TOOL, "description": _DESCRIPTION, "input_schema": dict(schema)}
    return {"tools": [tool], "tool_choice": {"type": "tool", "name": ANSWER_TOOL}}


def converse_tool_config(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Converse's `toolConfig` forcing the answer tool."""
    spec = {"name": ANSWER_TOOL, "description": _DESCRIPTION, "inputSchema": {"json": dict(schema)}}
    return {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": ANSWER_TOOL}}}


def tool_input_text(value: Any) -> str:
    """A tool call's input as the answer's JSON text."""
    return orjson.dumps(value).decode()

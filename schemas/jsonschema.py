"""JSON Schema documents of the contract, for services written in other languages."""

from __future__ import annotations

from pathlib import Path

import orjson

from llmrouter.schemas import MESSAGE_MODELS

__all__ = ["render_json_schemas", "write_json_schemas"]


def render_json_schemas() -> dict[str, bytes]:
    """File name → JSON Schema text (as serialised, i.e. the wire form), deterministic."""
    out = {}
    for name, model in MESSAGE_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://llmrouter.dev/schemas/v1/{name}.json"
        text = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        out[f"{name}.schema.json"] = text + b"\n"
    return out


def write_json_schemas(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render_json_schemas().items():
        path = out_dir / file_name
        path.write_bytes(text)
        written.append(path)
    return written

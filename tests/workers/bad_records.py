"""Records a worker must finish whatever they hold, generated with hypothesis.

`bad_records(task, n)` builds, deterministically (derandomized, no database, no
shrinking), a list of about `n` records no worker can route: random bytes, random JSON,
requests with a field of the wrong type or missing, request ids too long for a result,
invalid UTF-8, JSON nested past any parser's limit, metadata over the echo bound. Each one
says whether a `failed` result must answer it (`answered`: its request id is readable and
fits a result) besides its dead letter. Large payloads are built from small drawn
numbers, so hypothesis's own buffers stay small.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from llmrouter.workers.outputs import MAX_ECHOED_METADATA_BYTES, MAX_REQUEST_ID_CHARS

__all__ = ["BadRecord", "bad_records", "request"]

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class BadRecord:
    kind: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = field(default_factory=list)
    #: the request id a `failed` result must carry, when one must answer it
    answered: str | None = None


def request(request_id: Any, task: Any, **fields: Any) -> dict[str, Any]:
    return {"request_id": request_id, "task": task, "input": "hello", **fields}


_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_json_scalars = st.none() | st.booleans() | _ints | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)

#: (field, a value of the wrong type for it); none of them is coerced by the contract
_WRONG_TYPES = st.one_of(
    st.tuples(st.just("input"), _ints | st.lists(st.text(), max_size=2) | st.none()),
    st.tuples(st.just("metadata"), st.lists(_ints, max_size=3) | st.text() | _ints),
    st.tuples(st.just("context"), st.lists(_ints, max_size=3) | st.text(max_size=5)),
    st.tuples(st.just("user_tier"), st.sampled_from(["platinum", "", "FREE!"]) | _ints),
    st.tuples(st.just("priority"), st.sampled_from(["urgent-ish", "0"]) | st.lists(st.none())),
    st.tuples(st.just("created_at"), st.sampled_from(["yesterday", "2026-13-45", "now"])),
    st.tuples(
        st.just("schema_version"),
        st.integers(min_value=2, max_value=2**63 - 1) | st.text(max_size=3),
    ),
)


@st.composite
def _bad(draw: st.DrawFn, task: str, prefix: str, serial: itertools.count[int]) -> BadRecord:
    rid = f"{prefix}-{next(serial)}"
    kind = draw(
        st.sampled_from(
            [
                "random-bytes",
                "random-json",
                "wrong-type",
                "missing-field",
                "bad-id",
                "long-id",
                "non-utf8",
                "deep-json",
                "huge-metadata",
            ]
        )
    )
    if kind == "random-bytes":
        return BadRecord(kind, draw(st.binary(max_size=300)))
    if kind == "random-json":
        value = draw(_json)
        if isinstance(value, dict):
            value.pop("input", None)  # never a request by chance
        return BadRecord(kind, orjson.dumps(value))
    if kind == "wrong-type":
        name, wrong = draw(_WRONG_TYPES)
        return BadRecord(kind, orjson.dumps(request(rid, task, **{name: wrong})), answered=rid)
    if kind == "missing-field":
        missing = draw(st.sampled_from(["request_id", "task", "input"]))
        body = request(rid, task)
        del body[missing]
        # a request id that is there and fits is answered (the task comes from the topic)
        return BadRecord(
            kind, orjson.dumps(body), answered=None if missing == "request_id" else rid
        )
    if kind == "bad-id":
        wrong = draw(st.sampled_from(["", 0, 12.5, None, ["a"], {"id": "a"}, True]))
        return BadRecord(kind, orjson.dumps(request(wrong, task)))
    if kind == "long-id":
        length = draw(st.integers(min_value=MAX_REQUEST_ID_CHARS + 1, max_value=50_000))
        filler = draw(st.sampled_from(["x", "é", "😀", "\x00", '"']))
        long_id = f"{rid}-" + filler * length
        return BadRecord(kind, orjson.dumps(request(long_id, task)), key=long_id.encode())
    if kind == "non-utf8":
        junk = draw(st.binary(min_size=1, max_size=20).map(lambda b: b"\xff" + b))
        start = b'{"request_id": "' + rid.encode() + b'", "task": "' + task.encode() + b'", '
        return BadRecord(kind, start + b'"input": "' + junk + b'"}')
    if kind == "deep-json":
        depth = draw(st.integers(min_value=1025, max_value=50_000))
        nested = b'{"a":' * depth + b"{}" + b"}" * depth
        head = orjson.dumps(request(rid, task))[:-1]
        return BadRecord(kind, head + b', "metadata": ' + nested + b"}")
    # huge-metadata: a request otherwise valid, with more metadata than a result echoes
    size = draw(st.integers(min_value=MAX_ECHOED_METADATA_BYTES + 1, max_value=400_000))
    body = request(rid, task, metadata={"blob": "m" * size})
    return BadRecord(kind, orjson.dumps(body), answered=rid)


def bad_records(
    task: str, *, prefix: str = "bad", examples: int = 6, per_example: int = 40
) -> list[BadRecord]:
    """`examples * per_example` bad records for `task` (request ids `<prefix>-<n>`), the
    same on every run."""
    found: list[BadRecord] = []
    serial = itertools.count()

    @settings(
        derandomize=True,
        database=None,
        max_examples=examples,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(_bad(task, prefix, serial), min_size=per_example, max_size=per_example))
    def collect(records: list[BadRecord]) -> None:
        found.extend(records)

    collect()
    return found

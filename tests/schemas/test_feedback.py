"""The feedback message: the field its kind names must be set; bad input is refused clearly."""

from __future__ import annotations

import orjson
import pytest

from llmrouter.core.errors import InvalidMessage
from llmrouter.schemas import FEEDBACK_TOPIC, Feedback, decode, encode
from llmrouter.schemas.topics import router_topics


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("label", "label", "spam"),
        ("score", "score", 0.25),
        ("thumbs", "thumbs", "down"),
        ("resolution", "resolution", "refunded"),
    ],
)
def test_each_kind_round_trips(kind: str, field: str, value: object) -> None:
    fb = Feedback.model_validate(
        {"request_id": "r1", "task": "moderation", "kind": kind, field: value}
    )
    back = decode(encode(fb), Feedback)
    assert back == fb
    assert back.value() == value
    assert back.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "Feedback"),
        ({"request_id": "r", "task": "t", "kind": "label"}, "needs the field 'label'"),
        ({"request_id": "r", "task": "t", "kind": "score", "score": 1.5}, "score"),
        ({"request_id": "r", "task": "t", "kind": "score", "score": "NaN"}, "score"),
        ({"request_id": "r", "task": "t", "kind": "thumbs", "thumbs": "sideways"}, "thumbs"),
        ({"request_id": "r", "task": "t", "kind": "stars", "label": "x"}, "kind"),
        ({"request_id": "r", "task": "t", "kind": "label", "lable": "x"}, "lable"),
        ({"request_id": "r", "task": "Bad Task", "kind": "label", "label": "x"}, "task"),
        ({"request_id": "", "task": "t", "kind": "label", "label": "x"}, "request_id"),
        ({"request_id": "r", "task": "t", "kind": "label", "label": "x" * 1025}, "label"),
    ],
)
def test_bad_feedback_is_refused_with_a_reason(body: object, reason: str) -> None:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(InvalidMessage, match=reason):
        decode(raw, Feedback)


def test_the_feedback_topic_is_created_with_the_router_topics() -> None:
    assert FEEDBACK_TOPIC == "llm.feedback"
    assert FEEDBACK_TOPIC in router_topics(["moderation"], partitions=1)

"""The feedback rule a feedback consumer applies: good records decode; a bad one becomes a
dead letter on `llm.dlq` with the reason, and nothing else (no `failed` result)."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from llmrouter.core.errors import InvalidMessage
from llmrouter.schemas import DLQ_TOPIC, FEEDBACK_TOPIC, DeadLetter, Feedback, decode, encode
from llmrouter.workers.feedback import feedback_error_policy, read_feedback
from llmrouter.workers.outputs import WorkerIdentity


def _record(value: bytes, offset: int = 4) -> ConsumerRecord[bytes, bytes]:
    key = b"r1"
    return ConsumerRecord(FEEDBACK_TOPIC, 1, offset, 0, 0, key, value, None, 2, len(value), [])


def test_good_feedback_decodes() -> None:
    feedback = Feedback(request_id="r1", task="moderation", kind="label", label="spam")
    assert read_feedback(_record(encode(feedback))) == feedback


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b'{"request_id": "r1", "task": "moderation", "kind": "label"}',
        b'{"request_id": "r1", "task": "moderation", "kind": "label", "label": "x", "lable": "y"}',
    ],
)
def test_bad_feedback_becomes_one_dead_letter_and_nothing_else(value: bytes) -> None:
    record = _record(value)
    with pytest.raises(InvalidMessage) as caught:
        read_feedback(record)
    outputs = feedback_error_policy(WorkerIdentity("quality", "g", "i-1"))(record, caught.value)
    assert [o.topic for o in outputs] == [DLQ_TOPIC]
    letter = decode(outputs[0].value, DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == (FEEDBACK_TOPIC, 1, 4)
    assert letter.error_type == "InvalidMessage"
    assert letter.original_bytes() == value
    assert letter.worker == "quality"

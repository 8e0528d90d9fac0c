"""The classifier stage builds a classified request from the request's fields as they are
(workers/handlers.py): the bytes on `llm.classified.<task>` are those of the request's
dump with the verdict, as before."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from llmrouter.router.classifiers import ClassifierVerdict
from llmrouter.schemas import (
    Attempt,
    AttemptOutcome,
    Classification,
    ClassifiedRequest,
    Complexity,
    LLMRequest,
    decode,
    encode,
)
from llmrouter.schemas.enums import Priority, UserTier
from llmrouter.workers.handlers import _classified


def _request() -> LLMRequest:
    return decode(
        encode(
            LLMRequest(
                request_id="r-7",
                task="support",
                input="How do I reset my password? ünïcode",
                context={"kb_context": "Reset it from the login page.", "n": [1, 2]},
                user_tier=UserTier.PAID,
                priority=Priority.REALTIME,
                metadata={"ticket": 42, "tags": ["a"]},
                created_at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
            )
        ),
        LLMRequest,
    )


def _verdicts() -> list[ClassifierVerdict | None]:
    call = Attempt(
        model="tiny",
        provider="openai",
        model_version="gpt-tiny",
        purpose="classify",
        outcome=AttemptOutcome.OK,
        latency_ms=3.5,
        input_tokens=40,
        output_tokens=1,
        cost_usd=Decimal("0.00001"),
    )
    return [
        None,
        ClassifierVerdict(Complexity.SIMPLE, 0.9, "rules", "short question"),
        ClassifierVerdict(Complexity.COMPLEX, 0.55, "llm", None, [call]),
    ]


def test_classified_requests_are_the_bytes_of_validated_ones() -> None:
    request = _request()
    for verdict in _verdicts():
        built = _classified(request, verdict)
        validated = ClassifiedRequest(
            **request.model_dump(exclude={"schema_version"}),
            complexity=verdict.complexity if verdict else None,
            classification=Classification(
                classifier=verdict.classifier,
                complexity=verdict.complexity,
                confidence=verdict.confidence,
                reason=verdict.reason,
            )
            if verdict
            else None,
            classifier_attempts=verdict.attempts if verdict else [],
            classified_at=built.classified_at,
        )
        assert encode(built) == encode(validated)
        # and what the router stage reads back is the same request
        assert decode(encode(built), ClassifiedRequest) == validated
        assert built.request_id == request.request_id
        assert built.context == request.context
        assert built.complexity == (verdict.complexity if verdict else None)
        assert len(built.classifier_attempts) == (len(verdict.attempts) if verdict else 0)

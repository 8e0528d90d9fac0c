"""Results kept compressed in a router's memory (router/state/packing.py)."""

from __future__ import annotations

from decimal import Decimal

from llmrouter.router.state.dedupe import MemoryDedupe, SeenResult
from llmrouter.router.state.packing import pack, unpack
from llmrouter.schemas import LLMResult, ResultStatus, encode
from llmrouter.schemas.attempts import Attempt
from llmrouter.schemas.enums import AttemptOutcome


def _answer(i: int) -> bytes:
    """A typical answer's encoded result: about 1.2 KB, one attempt."""
    attempt = Attempt(
        model="claude-3-haiku",
        provider="anthropic",
        model_version="claude-3-haiku-20240307",
        purpose="answer",
        outcome=AttemptOutcome.OK,
        latency_ms=226.1 + i,
        input_tokens=2219,
        output_tokens=28,
        cost_usd=Decimal("0.00010597"),
    )
    return encode(
        LLMResult(
            request_id=f"{i:032x}",
            task="moderation",
            status=ResultStatus.OK,
            output='{"label":"safe","confidence":0.97,"reason":"The text contains no harmful, '
            f'abusive or policy-violating content (example {i})."}}',
            model="claude-3-haiku",
            model_version="claude-3-haiku-20240307",
            provider="anthropic",
            route="cascade",
            attempts=[attempt],
            cost_usd=Decimal("0.00010597"),
            latency_ms=242.57,
            metadata={"example": f"mod-{i:03d}"},
        )
    )


def test_a_result_comes_back_byte_for_byte() -> None:
    for result in (_answer(7), b"", b"x", "é ✓ \u2028".encode() * 100, bytes(range(256)) * 300):
        assert unpack(pack(result)) == result


def test_a_typical_result_keeps_in_under_half_its_size() -> None:
    result = _answer(1)
    assert len(result) > 900
    assert len(pack(result)) < len(result) // 2


async def test_a_duplicate_gets_the_very_bytes_kept() -> None:
    dedupe = MemoryDedupe(3600)
    result = _answer(3)
    claim = await dedupe.claim("r3", "t:0:1", wait_s=0, task="moderation")
    assert not isinstance(claim, SeenResult)
    await claim.store(result)
    # what is counted is the packed result with its id, not the result as published
    assert dedupe.size_bytes < len(result)
    seen = await dedupe.claim("r3", "t:0:2", wait_s=0, task="moderation")
    assert isinstance(seen, SeenResult)
    assert seen.result == result
    assert not seen.redelivered("t:0:2")


async def test_an_answer_over_the_bound_is_still_a_marker() -> None:
    dedupe = MemoryDedupe(3600, max_result_bytes=100)
    claim = await dedupe.claim("r4", "t:0:1", wait_s=0, task="moderation")
    assert not isinstance(claim, SeenResult)
    await claim.store(_answer(4))
    seen = await dedupe.claim("r4", "t:0:2", wait_s=0, task="moderation")
    assert isinstance(seen, SeenResult)
    assert seen.result == b""

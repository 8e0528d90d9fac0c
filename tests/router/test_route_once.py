"""`route_once`: the one idempotency interface a worker calls. An answer is kept for later
records of its request id; a failure or an error frees the id for the next record."""

from __future__ import annotations

import pytest

from llmrouter.core.errors import AllModelsFailed, ProviderTimeout
from llmrouter.router.routed import Earlier, Routed
from llmrouter.router.state.dedupe import MemoryDedupe, route_once
from llmrouter.schemas import LLMResult, ResultStatus, encode
from llmrouter.workers.outputs import result_outputs


class CountingRoute:
    """Stands in for `RoutingEngine.route`: counts its calls, returns what it is given."""

    def __init__(self, routed: Routed) -> None:
        self.routed = routed
        self.calls = 0

    async def __call__(self) -> Routed:
        self.calls += 1
        return self.routed


def answered(request_id: str = "r-1") -> Routed:
    return Routed(LLMResult(request_id=request_id, task="qa", status=ResultStatus.OK, output="hi"))


def failed(request_id: str = "r-1") -> Routed:
    errors = [ProviderTimeout("slow", model="cheap")]
    result = LLMResult(request_id=request_id, task="qa", status=ResultStatus.FAILED)
    return Routed(result, AllModelsFailed("every model failed", errors))


async def test_an_answer_is_routed_once_then_seen_by_every_later_record() -> None:
    dedupe = MemoryDedupe(window_s=60)
    route = CountingRoute(answered())
    first = await route_once(dedupe, route, "r-1", "t:0:1", wait_s=1)
    assert isinstance(first, Routed)
    assert first.result is route.routed.result
    # the bytes kept for the id are the ones its output publishes (encoded once)
    assert first.encoded == encode(first.result)
    duplicate = await route_once(dedupe, route, "r-1", "t:1:7", wait_s=1)
    assert isinstance(duplicate, Earlier)
    assert duplicate.result == route.routed.result
    assert not duplicate.redelivered
    redelivery = await route_once(dedupe, route, "r-1", "t:0:1", wait_s=1)
    assert isinstance(redelivery, Earlier)
    assert redelivery.redelivered  # the same record: its transaction never committed
    assert route.calls == 1


async def test_a_failed_result_frees_the_id_and_keeps_its_errors() -> None:
    dedupe = MemoryDedupe(window_s=60)
    route = CountingRoute(failed())
    first = await route_once(dedupe, route, "r-1", "t:0:1", wait_s=1)
    assert isinstance(first, Routed)
    assert first.failure is not None
    assert [type(e) for e in first.failure.exceptions] == [ProviderTimeout]
    again = await route_once(dedupe, route, "r-1", "t:0:2", wait_s=1)
    assert isinstance(again, Routed)  # a client retrying after a failure gets a new attempt
    assert route.calls == 2


async def test_an_error_frees_the_id() -> None:
    dedupe = MemoryDedupe(window_s=60)

    async def broken() -> Routed:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await route_once(dedupe, broken, "r-1", "t:0:1", wait_s=1)
    route = CountingRoute(answered())
    routed = await route_once(dedupe, route, "r-1", "t:0:1", wait_s=1)
    assert isinstance(routed, Routed)
    assert routed.result is route.routed.result


async def test_a_kept_answer_is_published_as_the_bytes_kept() -> None:
    dedupe = MemoryDedupe(window_s=60)
    route = CountingRoute(answered())
    first = await route_once(dedupe, route, "r-1", "t:0:1", wait_s=1)
    assert isinstance(first, Routed)
    published = result_outputs(first.result, encoded=first.encoded)[0].value
    redelivery = await route_once(dedupe, route, "r-1", "t:0:1", wait_s=1)
    assert isinstance(redelivery, Earlier)
    # the redelivered record publishes what was kept: the same bytes as the first output
    assert result_outputs(redelivery.result)[0].value == published == first.encoded

"""The idempotency key is the task and the request id; a claim remembers its input's
fingerprint; a stored result is bounded in bytes. In one process, in a real redis-server
and in a Redis Cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from llmrouter.core.errors import DuplicateConflict
from llmrouter.router.routed import Earlier, Routed
from llmrouter.router.state import StateStore
from llmrouter.router.state.dedupe import (
    Dedupe,
    MemoryDedupe,
    SeenResult,
    SharedDedupe,
    input_fingerprint,
    route_once,
)
from llmrouter.schemas import LLMRequest, LLMResult, ResultStatus, encode

Make = Callable[..., Dedupe]


@pytest.fixture(params=["memory", "single", "cluster"])
def dedupe_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    return str(
        request.getfixturevalue(f"redis{'_cluster' if request.param == 'cluster' else ''}_url")
    )


@pytest.fixture
async def make(dedupe_url: str | None) -> AsyncIterator[Make]:
    if dedupe_url is None:
        yield lambda **kw: MemoryDedupe(window_s=60, **kw)
        return
    store = StateStore.connect(dedupe_url, prefix=f"test-{uuid.uuid4().hex[:12]}")
    yield lambda **kw: SharedDedupe(store, window_s=60, **kw)
    await store.aclose()


def answered(task: str, text: str = "hi") -> Routed:
    return Routed(LLMResult(request_id="r", task=task, status=ResultStatus.OK, output=text))


class Route:
    def __init__(self, routed: Routed) -> None:
        self.routed, self.calls = routed, 0

    async def __call__(self) -> Routed:
        self.calls += 1
        return self.routed


async def test_one_id_on_two_tasks_is_two_claims(make: Make) -> None:
    dedupe = make()
    qa = await dedupe.claim("r", "a:0:1", wait_s=1, task="qa", fingerprint="f")
    qb = await dedupe.claim("r", "b:0:1", wait_s=0, task="qb", fingerprint="f")
    assert not isinstance(qa, SeenResult)
    assert not isinstance(qb, SeenResult)  # not waiting on qa's owner, not its answer
    await qa.store(encode(answered("qa").result))
    seen = await dedupe.claim("r", "a:0:2", wait_s=1, task="qa", fingerprint="f")
    assert isinstance(seen, SeenResult)
    assert not seen.conflicts("f")
    assert seen.conflicts("g")


async def test_another_input_is_a_conflict_with_no_route(make: Make) -> None:
    dedupe = make()
    first = Route(answered("qa"))
    one = LLMRequest(request_id="r", task="qa", input="one")
    two = LLMRequest(request_id="r", task="qa", input="two")
    fp_one, fp_two = input_fingerprint(one), input_fingerprint(two)
    assert fp_one != fp_two
    assert fp_one == input_fingerprint(one.model_copy(update={"metadata": {"x": 1}}))
    await route_once(dedupe, first, "r", "t:0:1", wait_s=1, task="qa", fingerprint=fp_one)
    second = Route(answered("qa", "other"))
    with pytest.raises(DuplicateConflict, match=r"^duplicate_conflict"):
        await route_once(dedupe, second, "r", "t:0:2", wait_s=1, task="qa", fingerprint=fp_two)
    assert second.calls == 0
    same = await route_once(dedupe, second, "r", "t:0:3", wait_s=1, task="qa", fingerprint=fp_one)
    assert isinstance(same, Earlier)
    assert same.result.output == "hi"


async def test_a_result_over_the_bound_is_kept_as_a_marker(make: Make) -> None:
    dedupe = make(max_result_bytes=2_000)
    big = Route(answered("qa", "x" * 5_000))
    await route_once(dedupe, big, "r", "t:0:1", wait_s=1, task="qa", fingerprint="f")
    later = await route_once(dedupe, big, "r", "t:0:2", wait_s=1, task="qa", fingerprint="f")
    assert isinstance(later, Earlier)
    assert later.result.status is ResultStatus.FAILED
    assert later.result.output is None
    assert "answered before" in (later.result.error or "")
    assert big.calls == 1
    small = Route(answered("qb", "y"))
    await route_once(dedupe, small, "r", "t:0:1", wait_s=1, task="qb", fingerprint="f")
    kept = await route_once(dedupe, small, "r", "t:0:2", wait_s=1, task="qb", fingerprint="f")
    assert isinstance(kept, Earlier)
    assert kept.result.output == "y"


async def test_the_claim_key_keeps_one_hash_slot_per_task_and_id() -> None:
    store = StateStore.connect("redis://127.0.0.1:1/0", prefix="p")
    try:
        key = store.key("dedupe", "qa/r:{1}")
        assert key == "p:dedupe:{qa/r:%7B1%7D}"
    finally:
        await store.aclose()


def test_the_fingerprint_ignores_key_order_and_is_stable_across_versions() -> None:
    context = {"b": {"z": 1, "a": [{"y": 2, "x": 3}]}, "a": "é", "A": None}
    one = LLMRequest(request_id="r", task="qa", input="one", context=context)
    reordered = {"A": None, "a": "é", "b": {"a": [{"x": 3, "y": 2}], "z": 1}}
    assert input_fingerprint(one) == input_fingerprint(
        one.model_copy(update={"context": reordered})
    )
    # The value an earlier release stored for this input: a rolling upgrade must not turn a
    # retried request into a duplicate_conflict.
    assert input_fingerprint(one) == "375cb2657161fdb54b79d49a21967b66"

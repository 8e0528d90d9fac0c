"""Idempotency claims, in one process and shared through a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from llmrouter.router.config_loader import parse_config
from llmrouter.router.state import StateStore
from llmrouter.router.state.dedupe import (
    DEFAULT_CLAIM_LEASE_S,
    Dedupe,
    MemoryDedupe,
    SeenResult,
    SharedDedupe,
)
from llmrouter.router.state.wiring import open_state

Make = Callable[..., Dedupe]


@pytest.fixture(params=["memory", "single", "cluster"])
def dedupe_url(request: pytest.FixtureRequest) -> str | None:
    """None: in this process; else the session's redis-server or Redis Cluster."""
    if request.param == "memory":
        return None
    return str(
        request.getfixturevalue(f"redis{'_cluster' if request.param == 'cluster' else ''}_url")
    )


@pytest.fixture
async def make(dedupe_url: str | None) -> AsyncIterator[Make]:
    if dedupe_url is None:
        memory = MemoryDedupe(window_s=60)
        yield lambda **_: memory
        return
    store = StateStore.connect(dedupe_url, prefix=f"test-{uuid.uuid4().hex[:12]}")
    yield lambda **kw: SharedDedupe(store, window_s=60, **kw)
    await store.aclose()


async def test_first_owns_then_duplicates_see_its_result(make: Make) -> None:
    a, b = make(), make()
    claim = await a.claim("r1", "t:0:5", wait_s=1)
    assert not isinstance(claim, SeenResult)
    await claim.store(b'{"ok":1}')
    seen = await b.claim("r1", "t:1:9", wait_s=1)
    assert isinstance(seen, SeenResult)
    assert seen.result == b'{"ok":1}'
    assert not seen.redelivered("t:1:9")
    again = await b.claim("r1", "t:0:5", wait_s=1)
    assert isinstance(again, SeenResult)
    assert again.redelivered("t:0:5")  # the same record: its transaction never committed


async def test_an_in_flight_duplicate_waits_for_the_first(make: Make) -> None:
    a, b = make(), make()
    claim = await a.claim("r2", "t:0:1", wait_s=1)
    assert not isinstance(claim, SeenResult)
    waiter = asyncio.create_task(b.claim("r2", "t:0:2", wait_s=10))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await claim.store(b"answer")
    seen = await asyncio.wait_for(waiter, 5)
    assert isinstance(seen, SeenResult)
    assert seen.result == b"answer"


async def test_a_released_claim_lets_the_next_record_route(make: Make) -> None:
    a, b = make(), make()
    claim = await a.claim("r3", "t:0:1", wait_s=1)
    assert not isinstance(claim, SeenResult)
    waiter = asyncio.create_task(b.claim("r3", "t:0:2", wait_s=10))
    await claim.release()
    second = await asyncio.wait_for(waiter, 5)
    assert not isinstance(second, SeenResult)
    await second.release()


async def test_a_dead_owners_lease_expires(state_store: StateStore) -> None:
    dead = SharedDedupe(state_store, window_s=60, lease_s=0.3)
    claim = await dead.claim("r4", "t:0:7", wait_s=1)
    assert not isinstance(claim, SeenResult)
    # SIGKILL: the owner stops renewing and never releases.
    await claim._stop_renewing()  # type: ignore[attr-defined]
    alive = SharedDedupe(state_store, window_s=60, lease_s=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # What is left of the dead owner's lease, read after `started`: however late a loaded
    # machine gets here, the new owner cannot have the claim before that has run out.
    left_s = max(await _pttl(state_store, state_store.key("dedupe", "r4")), 0) / 1000
    taken = await alive.claim("r4", "t:0:7", wait_s=60)
    waited_s = loop.time() - started
    assert not isinstance(taken, SeenResult)
    # Past a claim that never expired it would have waited all of wait_s (60 s, then routed
    # anyway): the margin is half of that, a hundred leases, not a tight window.
    assert left_s - 0.005 <= waited_s < 30
    await taken.release()


async def test_a_live_owner_keeps_its_claim(state_store: StateStore) -> None:
    # A lease of 1 s renewed every third of it: a loaded machine would have to stall the loop
    # for most of a second to let it lapse (with 0.3 s, a 0.2 s stall was enough).
    owner = SharedDedupe(state_store, window_s=60, lease_s=1.0)
    claim = await owner.claim("r5", "t:0:1", wait_s=1)
    assert not isinstance(claim, SeenResult)
    other = SharedDedupe(state_store, window_s=60, lease_s=1.0)
    waiter = asyncio.create_task(other.claim("r5", "t:0:2", wait_s=30))
    await asyncio.sleep(2.5)  # two leases and a half: renewals keep it
    assert not waiter.done()
    await claim.store(b"x")
    assert isinstance(await asyncio.wait_for(waiter, 5), SeenResult)


async def test_one_renewal_keeps_claims_spread_over_many_slots(state_store: StateStore) -> None:
    owner = SharedDedupe(state_store, window_s=60, lease_s=1.0)  # 1 s: as above
    claims = [await owner.claim(f"many-{i}", f"t:0:{i}", wait_s=1) for i in range(20)]
    assert not any(isinstance(c, SeenResult) for c in claims)
    await asyncio.sleep(2.5)  # two leases and a half: renewals (one per slot on a cluster) keep all
    for i in range(20):
        pttl = await _pttl(state_store, state_store.key("dedupe", f"many-{i}"))
        assert 0 < pttl <= 1000, (i, pttl)  # not expired (-2): renewed within its lease
    await owner.aclose()


async def test_a_closed_dedupe_renews_nothing_and_its_claims_run_out(
    state_store: StateStore,
) -> None:
    # Requests still in flight when the router closes keep their claims: the renewer must
    # stop with the dedupe (not call a closed store forever), and a claim taken as it
    # closes must not start another.
    owner = SharedDedupe(state_store, window_s=60, lease_s=0.3)
    held = await owner.claim("closing-1", "t:0:1", wait_s=1)
    assert not isinstance(held, SeenResult)
    await owner.aclose()
    renewer = owner._renewer
    assert renewer is not None
    assert renewer.done()
    late = await owner.claim("closing-2", "t:0:2", wait_s=1)
    assert not isinstance(late, SeenResult)
    assert owner._renewer is renewer
    other = SharedDedupe(state_store, window_s=60, lease_s=0.3)
    taken = await other.claim("closing-1", "t:0:3", wait_s=30)  # the lease ran out
    assert not isinstance(taken, SeenResult)
    await taken.release()
    await other.aclose()


async def _pttl(store: StateStore, key: str) -> int:
    return int(await store.run(lambda c: c.pttl(key)))


async def test_the_lease_a_router_state_is_opened_with_bounds_a_dead_owners_claims(
    state_store: StateStore,
) -> None:
    """Workers open their state with their Kafka session timeout as the claims' lease: a
    redelivered record waits for a dead owner's claim no longer than for its partitions."""
    cfg = parse_config(LEASE_CONFIG)
    dead = open_state(cfg, store=state_store, claim_lease_s=0.5)
    assert isinstance(dead.dedupe, SharedDedupe)
    assert dead.dedupe.lease_s == 0.5
    claim = await dead.dedupe.claim("r6", "t:0:3", wait_s=1)
    assert not isinstance(claim, SeenResult)
    # The claim in the store carries the 0.5 s lease (a count, not a clock reading).
    assert 0 < await _pttl(state_store, state_store.key("dedupe", "r6")) <= 500
    await claim._stop_renewing()  # type: ignore[attr-defined]  # SIGKILL
    alive = SharedDedupe(state_store, window_s=60)  # its own lease is the 10 s default
    loop = asyncio.get_running_loop()
    started = loop.time()
    taken = await alive.claim("r6", "t:0:3", wait_s=20)
    assert not isinstance(taken, SeenResult)
    # The dead owner's 0.5 s, not 10 s: the bound is half of the 10 s, not a tight window.
    assert loop.time() - started < 5.0
    await taken.release()
    await dead.dedupe.aclose()
    default = open_state(cfg, store=state_store).dedupe
    assert isinstance(default, SharedDedupe)
    assert default.lease_s == DEFAULT_CLAIM_LEASE_S


LEASE_CONFIG = """\
version: 1
models:
  m: {provider: openai, model_id: gpt-4o-mini, input_usd_per_1k: 0.001, output_usd_per_1k: 0.002}
tasks:
  t:
    route: {strategy: static, model: m}
"""


async def test_the_in_process_dedupe_keeps_a_bounded_number_of_bytes() -> None:
    dedupe = MemoryDedupe(3600, max_bytes=64 * 1024)
    answer = b"a" * 1_000
    for i in range(1_000):  # about 1.4 MB of answers and ids in all
        claim = await dedupe.claim(f"r{i}", f"t:0:{i}", wait_s=0, task="qa")
        assert not isinstance(claim, SeenResult)
        await claim.store(answer)
    assert 0 < dedupe.size_bytes <= 64 * 1024
    # the newest are kept, the oldest forgotten first
    newest = await dedupe.claim("r999", "t:0:5000", wait_s=0, task="qa")
    assert isinstance(newest, SeenResult)
    assert newest.result == answer
    oldest = await dedupe.claim("r0", "t:0:5001", wait_s=0, task="qa")
    assert not isinstance(oldest, SeenResult)
    await oldest.release()  # a claim given up frees what it took
    before = dedupe.size_bytes
    again = await dedupe.claim("r0", "t:0:5002", wait_s=0, task="qa")
    assert not isinstance(again, SeenResult)
    await again.release()
    assert dedupe.size_bytes == before

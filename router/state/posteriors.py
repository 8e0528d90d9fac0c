"""Per task and model, the evidence of its quality (scores summed as successes and
failures, older evidence weighed down by a decay) and its mean cost per answer: what an
adaptive route's posteriors are made of (router/adaptive.py).

The quality worker records (workers/quality/); routers read, at most once per route's
`cache_s` per task. Shared through the store (`posterior:<task>:<model>`, a hash of
`s`, `f`, `n`, `cost`), else this process's own (a single-process deployment, tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from llmrouter.router.state.store import StateStore

__all__ = ["COST_SMOOTHING", "Evidence", "MemoryPosteriors", "Posteriors", "SharedPosteriors"]

#: the weight of a new answer's cost in the mean cost per answer (an exponential mean)
COST_SMOOTHING = 0.1


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the scores of one model say: decayed sums of score (`successes`) and of
    1 − score (`failures`), the scores counted, and the mean cost of an answer."""

    successes: float = 0.0
    failures: float = 0.0
    scores: int = 0
    cost_usd: float | None = None

    def with_score(self, score: float, decay: float) -> Evidence:
        return Evidence(
            self.successes * decay + score,
            self.failures * decay + (1.0 - score),
            self.scores + 1,
            self.cost_usd,
        )

    def with_cost(self, cost_usd: float) -> Evidence:
        mean = cost_usd if self.cost_usd is None else self.cost_usd
        mean += COST_SMOOTHING * (cost_usd - mean)
        return Evidence(self.successes, self.failures, self.scores, mean)


class Posteriors(Protocol):
    async def record_score(self, task: str, model: str, score: float, *, decay: float) -> None: ...

    async def record_cost(self, task: str, model: str, cost_usd: float) -> None: ...

    async def read(self, task: str, models: Sequence[str]) -> dict[str, Evidence]: ...


class MemoryPosteriors:
    """This process's own evidence."""

    def __init__(self) -> None:
        self._evidence: dict[tuple[str, str], Evidence] = {}

    async def record_score(self, task: str, model: str, score: float, *, decay: float) -> None:
        key = (task, model)
        self._evidence[key] = self._evidence.get(key, Evidence()).with_score(score, decay)

    async def record_cost(self, task: str, model: str, cost_usd: float) -> None:
        key = (task, model)
        self._evidence[key] = self._evidence.get(key, Evidence()).with_cost(cost_usd)

    async def read(self, task: str, models: Sequence[str]) -> dict[str, Evidence]:
        return {m: self._evidence.get((task, m), Evidence()) for m in models}


_RECORD_SCORE = """
local s = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local decay = tonumber(ARGV[2])
local score = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 's', tostring(s * decay + score), 'f', tostring(f * decay + 1 - score))
redis.call('HINCRBY', KEYS[1], 'n', 1)
return 1
"""

_RECORD_COST = """
local mean = redis.call('HGET', KEYS[1], 'cost')
local cost = tonumber(ARGV[1])
if mean then
  mean = tonumber(mean)
else
  mean = cost
end
redis.call('HSET', KEYS[1], 'cost', tostring(mean + tonumber(ARGV[2]) * (cost - mean)))
return 1
"""


class SharedPosteriors:
    """The evidence in the shared store: one hash per task and model, changed by scripts
    (each update whole)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._score = store.script(_RECORD_SCORE)
        self._cost = store.script(_RECORD_COST)

    def _key(self, task: str, model: str) -> str:
        return self._store.key("posterior", task, model)

    async def record_score(self, task: str, model: str, score: float, *, decay: float) -> None:
        await self._score([self._key(task, model)], [repr(score), repr(decay)])

    async def record_cost(self, task: str, model: str, cost_usd: float) -> None:
        await self._cost([self._key(task, model)], [repr(cost_usd), repr(COST_SMOOTHING)])

    async def read(self, task: str, models: Sequence[str]) -> dict[str, Evidence]:
        keys = [self._key(task, m) for m in models]

        async def fetch(client: object) -> list[list[bytes | None]]:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            for key in keys:
                pipe.hmget(key, "s", "f", "n", "cost")
            found: list[list[bytes | None]] = await pipe.execute()
            return found

        rows = await self._store.run(fetch)
        return {model: _evidence(row) for model, row in zip(models, rows, strict=True)}


def _evidence(row: Sequence[bytes | str | None]) -> Evidence:
    s, f, n, cost = (None if v is None else float(v) for v in row)
    return Evidence(s or 0.0, f or 0.0, int(n or 0), cost)

"""Counts of simulated upstream calls per model id and outcome (`GET /_sim/stats`).

```json
{"requests": 3,
 "models": {"gpt-4-turbo": {"ok": 2, "429": 1, "500": 0, ...}},
 "totals": {"ok": 2, "429": 1, ...},
 "apis": {"openai": 3, "anthropic": 0}}
```
Every model that was called lists every outcome, zeros included.
"""

from __future__ import annotations

from typing import Any

from llmrouter.simulator.faults import Fault

OK = "ok"
INVALID_REQUEST = "invalid_request"
OUTCOMES: tuple[str, ...] = (OK, *(f.value for f in Fault), INVALID_REQUEST)


class Stats:
    """Mutable counters; cheap enough to update on every request."""

    def __init__(self) -> None:
        self._models: dict[str, dict[str, int]] = {}
        self._apis: dict[str, int] = {"openai": 0, "anthropic": 0}

    def record(self, api: str, model: str, outcome: str) -> None:
        counts = self._models.get(model)
        if counts is None:
            counts = self._models[model] = dict.fromkeys(OUTCOMES, 0)
        counts[outcome] = counts.get(outcome, 0) + 1
        self._apis[api] = self._apis.get(api, 0) + 1

    def reset(self) -> None:
        self._models.clear()
        self._apis = dict.fromkeys(self._apis, 0)

    def count(self, model: str | None = None, outcome: str | None = None) -> int:
        """Calls to `model` (any when None) that ended in `outcome` (any when None)."""
        rows = [self._models.get(model, {})] if model is not None else self._models.values()
        return sum(sum(row.values()) if outcome is None else row.get(outcome, 0) for row in rows)

    def snapshot(self) -> dict[str, Any]:
        totals = dict.fromkeys(OUTCOMES, 0)
        for counts in self._models.values():
            for outcome, n in counts.items():
                totals[outcome] = totals.get(outcome, 0) + n
        return {
            "requests": sum(totals.values()),
            "models": {model: dict(counts) for model, counts in self._models.items()},
            "totals": totals,
            "apis": dict(self._apis),
        }

"""The garbage collector of a worker process, tuned for many short-lived records.

A worker allocates a few hundred container objects per record (the request and result
models, the provider call's aiohttp objects, tasks and futures) and frees nearly all of
them by reference counting. With CPython's default thresholds (a young-generation
collection every 700 allocations) the collector ran hundreds of times a second at
capacity, each time walking the thousands of objects of the records in flight, and took
about 30% of the router's CPU (bench/handler_cpu.py: 1.2 s of collector time in 4 s).
So a worker process (`llmrouter worker ...`, `llmrouter run`), once its config is loaded:

- freezes what start-up loaded (modules, config): the collector never walks it;
- collects the young generation every `GEN0_THRESHOLD` allocations instead of 700, and
  the older ones proportionally less often. Only garbage in reference cycles waits for a
  collection; it is freed all the same, a little later.
"""

from __future__ import annotations

import gc

__all__ = ["GEN0_THRESHOLD", "tune_gc"]

GEN0_THRESHOLD = 50_000
#: young collections per middle one, middle per full (a full one also waits, as always,
#: until a quarter of the long-lived objects are new)
GEN1_THRESHOLD = 20
GEN2_THRESHOLD = 10


def tune_gc() -> None:
    """Freeze the objects alive now and raise the collection thresholds, for the rest of
    the process (a worker process's, not a library user's: the CLI calls it)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)

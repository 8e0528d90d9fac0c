"""Benchmarks of the router: `python -m bench` (or `make bench`).

(a) throughput  bench/throughput.py  full pipeline vs a raw aiokafka pass-through
(b) load        bench/load.py        open-loop 500 req/s with 1.5 s providers vs the bare SDK
(c) decision    bench/decision.py    rule classifier + decide() vs a dict lookup

Every benchmark measures its own baseline in the same run and reports a ratio, so figures
taken on different machines stay comparable. Results go to stdout and docs/BENCHMARKS.md.
"""

"""Benchmarks of the router: `python -m bench` (or `make bench`); docs/BENCHMARKS.md has the
method, the figures and what they say.

(a) throughput  bench/throughput.py  full pipeline vs a raw aiokafka pass-through
                bench/passthrough.py (that baseline, run as its own process)
(b) load        bench/load.py        open-loop 500 req/s with 1.5 s providers vs the bare SDK
(c) decision    bench/decision.py    rule classifier + decide() vs a dict lookup

Shared: bench/harness.py (machine, broker, child processes, topic reader), bench/workload.py
(eval questions, the routing config), bench/profiling.py (py-spy), bench/report.py
(Markdown and the docs), bench/whatif.py (the CLI with a recommended change applied).

Every benchmark measures its own baseline in the same run and reports a ratio, so figures
taken on different machines stay comparable.
"""

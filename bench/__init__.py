"""Benchmarks of the pipeline against what a team would write instead: `python -m bench`
(or `make bench`); docs/BENCHMARKS.md has the method, the figures and what they say.

(a) latency   bench/scenarios.py  150 req/s, lognormal provider latency: pipeline vs a
                                  plain aiokafka + openai consumer (bench/plain.py)
(b) load      bench/scenarios.py  500 req/s at a fixed 1.5 s: pipeline vs plain consumer
(c) capacity  bench/scenarios.py  1,500 req/s at zero latency: pipeline vs plain consumer
                                  and a raw aiokafka pass-through (bench/plain.py too)
(d) decision  bench/decision.py   rule classifier + decide() vs a dict lookup

Shared: bench/openloop.py (one open-loop run of one system), bench/harness.py (machine,
broker, child processes, topic reader), bench/workload.py (eval questions, the routing
config), bench/profiling.py (py-spy), bench/report.py (Markdown and the docs).
bench/provider_call.py measures the CPU of one provider call on its own.

Every benchmark measures its baseline in the same run and reports a ratio, so figures
taken on different machines stay comparable.
"""

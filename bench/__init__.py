"""Benchmarks of the pipeline against what a team would write instead: `python -m bench`
(or `make bench`); docs/BENCHMARKS.md has the method, the figures and what they say.

(a) latency   bench/scenarios.py  150 req/s, lognormal provider latency: the pipeline
                                  (static route) vs a plain aiokafka + openai consumer
                                  (bench/plain.py) and a LiteLLM Router consumer
                                  (bench/litellm_consumer.py)
(b) load      bench/scenarios.py  500 req/s at a fixed 1.5 s: the pipeline with a static
                                  and with a complexity route vs the plain and LiteLLM
                                  consumers and a raw pass-through holding each record
                                  1.5 s (bench/plain.py too)
(c) capacity  bench/scenarios.py  3,000 req/s offered at zero latency: the same five
(d) decision  bench/decision.py   rule classifier + decide() vs a dict lookup

Shared: bench/openloop.py (one open-loop run of one system), bench/harness.py (machine,
broker, child processes, topic reader), bench/workload.py (eval questions, the routing
configs), bench/consumer.py (the baselines' consumer loop), bench/prompt.py (the prompt
they send), bench/litellm_env.py (LiteLLM's own virtualenv), bench/profiling.py (py-spy),
bench/report.py (Markdown and the docs). bench/provider_call.py measures the CPU of one
provider call on its own.

Every benchmark measures its baselines in the same run and reports ratios, so figures
taken on different machines stay comparable.
"""

"""Evaluate models on a task's eval set through router/: load, run, score, compare.

    dataset     the eval-set format, loaded with errors naming file and example
    metrics     accuracy, completeness, tone, safety, latency, throughput, cost, cost-quality
    safety      the safety checks on one answer
    judge       the LLM judge (tone 1-10, pass/fail accuracy) through router/ providers
    candidates  catalog models, NAME@MODEL_ID pins, the configured route; their eval configs
    runner      every example through every candidate, bounded concurrency, progress bars
    report      the Step-4 table, highlights, recommendations, JSON and CSV files
    plot        cost per query against quality with the Pareto front (matplotlib, optional)
    compare     baseline vs candidate deltas and the upgrade / keep-baseline verdict
    session     one evaluation end to end, starting a provider simulator when offline
    learn/      learned routing: outcomes, training, AIQ/APGR/CPT evaluation (`llmrouter learn`)

Entry points: `llmrouter eval` and `llmrouter compare` (cli/eval_commands.py).
"""

"""The two LLM workers (classifier and router) on the exactly-once runtime: their handlers, error policy, health, metrics and launch."""

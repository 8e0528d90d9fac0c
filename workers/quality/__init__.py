"""The quality worker (`llmrouter worker quality`): the watch half of quality in
production, off the hot path. It reads what the router already published and never
delays a live answer:

- `llm.requests.<task>` and `llm.results.<task>` (read_committed), joined by request id
  in the state store, or in memory without one (join.py): a sample of answered requests
  is mirrored to the task's shadow models, and a sample of live and shadow answers is
  graded by the task's judge (calls.py); shadow answers go to `llm.shadow.<task>`, their cost events to
  `llm.costs` (marked `shadow`), scores to `llm.scores`;
- `llm.feedback`: a label for an answer it still holds becomes a score (`judge_model`
  `label`), a client's score or thumbs one (`feedback`), once per statement;
- `llm.scores`: each score updates the model's posterior in the store (the adaptive
  routes read it) and its live quality and drift (live.py, metrics.py).

It reads in batches, at its own pace (build.py: a fetch waits for 64 KiB or 100 ms), and a
request sampled for nothing is finished as it is read, never decoded (peek.py).
Everything it publishes goes out with the offsets of what it consumed, in one transaction
(the runtime). With a state store it runs as any number of replicas; SIGHUP reloads its
config (reload.py).
"""

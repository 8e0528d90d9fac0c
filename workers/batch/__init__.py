"""Batch priority through the providers' batch APIs, exactly once, at the batch price.

The request's path, top to bottom:

1. handover.py — the router stage routes and renders a batch-priority request of a model
   with `batch_api` as usual, then hands it over as an entry on the compacted
   `llm.batches` topic, in the transaction that commits the request's offset.
2. owner.py — the batch worker owns each partition of `llm.batches` (one owner per
   partition, through its consumer group, with a transactional producer per partition
   that fences the previous owner): it collects the partition's entries into jobs under
   the model's flush policy, submits each job once, polls it, and publishes its answers.
3. publish.py — an ended job's results and cost events (at the batch price), and the
   unanswered requests down their fallback, in the transaction that marks the job done.
4. worker.py — the consumer loop and the hand-over of partitions on a rebalance.
"""

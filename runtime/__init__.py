"""The exactly-once Kafka runtime: consume concurrently, publish exactly once.

    assignment ──► stable committed offset + done-offsets record (OffsetFetch v7,
                   require_stable) ──► seek; records a previous owner published are skipped
    fetch ──► handler tasks (up to max_in_flight, across and within partitions)
                 │ outputs, or an exception the `on_error` callback turns into outputs
                 ▼
    PartitionProgress per partition ──► flush: one transaction per batch holding every
                 finished record's outputs, and per partition the offset of its first
                 record still in flight with, as metadata, which records above it are done

At-least-once consumption, exactly-once publication: a crash before a commit aborts the
transaction (nothing of it is visible to read_committed readers) and its records are
processed again by the next owner; a committed transaction published its records'
outputs and recorded them as done atomically, so the next owner skips exactly those.

The parts, one idea each:

- `worker.TransactionalWorker`: the consumer loop (fetch, dispatch, backpressure,
  rebalances, drain); it holds the parts below and hands each the same partition book;
- `book.PartitionBook`: per partition, its progress, handler tasks, pause and adoption;
- `lanes.Lanes`: how the topics share `max_in_flight` (a lane at its share pauses alone);
- `progress.PartitionProgress` and `done_offsets`: the book-keeping of one partition and
  the format of the done-offsets record committed with its offset;
- `publisher.Publisher`: plans and commits the transactions, retries them, and stops
  the worker only on a real fence (`fence_check`);
- `adopter.Adopter`: starts a newly assigned partition from its stable committed offset;
- `options`, `handler`, `stats`, `reporting`: what a worker runs with, what it runs, what
  it counts and what it reports.

The runtime knows nothing of what the records mean: the workers hand it a handler and an
`on_error` callback, and the metrics it reports to.

Why not FastStream's subscriber runtime here: its ack policies commit one message at a
time and it has no transactional producer, so neither atomic output+offset commits nor
commits over concurrent in-partition work can be expressed with it.
"""

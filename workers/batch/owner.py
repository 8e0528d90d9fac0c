"""One partition of `llm.batches` and the jobs made of it, driven by its one owner.

The partition's log is the state. On assignment the owner reads it from the group's
committed offset to its end: entries not in a live job wait for one, and live jobs
(`open`: chosen, maybe created at the provider; `submitted`: created, its id recorded)
are driven on. Every change is one Kafka transaction of this partition's producer
(transactional id `<group>-p<partition>`: a new owner fences the old one), which also
commits the partition's low-water mark — the offset of the oldest entry not yet done —
so a restart re-reads exactly what is unfinished:

- collect: a job record (`open`) naming the entries it takes, once the model's flush
  policy says so (most requests, most bytes, longest wait);
- submit: the provider job, created once — `find` looks for it under our job id before
  `create` makes it (a job this owner opened itself is made without looking: nothing
  was sent for it yet) — then the job record `submitted` with the provider's id;
  a provider job taken by `find` whose results turn out to be another job's (Anthropic's
  list tells jobs apart only once they ended) sends the job back to `open`;
- poll: `retrieve` every `poll_s` until the job ended;
- publish: every entry's result and cost events (or fallback), the job record `done` and
  tombstones for the job and its entries, in one transaction. Before it, each answer's
  batch cost is charged to its task's daily budget and the answer kept for later copies
  of its request id (answered.py: once each, however often the publish is retried);
  after it, the ids' in-job marks are removed (in_job.py).

A crash anywhere repeats at most the step under way: a job record not committed was not
written; a provider job created but not recorded is found; results not committed were
not published.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import cast

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import murmur2

from llmrouter.kafkaio.transactions import Output, commit_transaction
from llmrouter.router import RoutingEngine
from llmrouter.router.config_batch import BatchApiSpec
from llmrouter.router.providers.batch_base import WAIT, BatchClient, BatchLine, custom_id
from llmrouter.router.providers.call import SdkProvider
from llmrouter.schemas import LLMResult, decode, encode, utc_now
from llmrouter.schemas.batches import (
    BatchEntry,
    BatchJob,
    BatchJobState,
    entry_key,
    is_job_key,
    job_key,
)
from llmrouter.workers.batch.answered import settle_answers
from llmrouter.workers.batch.clients import batch_client
from llmrouter.workers.batch.in_job import in_job_marks
from llmrouter.workers.batch.publish import entry_outputs
from llmrouter.workers.metrics import METRICS

__all__ = ["PartitionOwner"]

#: a null value: aiokafka sends None as a tombstone, which compaction removes with its key
_TOMBSTONE = cast("bytes", None)

log = structlog.get_logger("llmrouter.workers.batch")


class PartitionOwner:
    def __init__(
        self,
        tp: TopicPartition,
        producer: AIOKafkaProducer,
        group_id: str,
        router: RoutingEngine,
        *,
        start_offset: int,
        end_offset: int,
        partitions: int,
    ) -> None:
        self.tp = tp
        self.producer = producer
        self.group_id = group_id
        self.router = router
        #: the next offset to read; live entries by offset; live jobs by id
        self.position = start_offset
        self.end_offset = end_offset
        #: the topic's partition count (a job's key must hash to this partition)
        self.partitions = partitions
        self.entries: dict[int, BatchEntry] = {}
        self.jobs: dict[str, BatchJob] = {}
        self.pending: dict[str, list[int]] = defaultdict(list)
        self.caught_up = False
        self._next_poll: dict[str, float] = {}
        #: jobs this owner opened and has not yet tried to create: no provider job can
        #: exist for them, so they are created without a look-up
        self._unsent: set[str] = set()
        self._clients: dict[str, BatchClient] = {}
        self._lock = asyncio.Lock()
        if start_offset >= end_offset:
            self._settle()

    # -- reading the partition -----------------------------------------------------------

    def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.offset < self.position:  # read already (fetched before a seek)
            return
        self.position = record.offset + 1
        if record.value:  # None: a tombstone
            if is_job_key(record.key):
                job = decode(record.value, BatchJob)
                # after catching up, every job record is our own; a job of another
                # partition (none is written so) is not this owner's to drive
                if not self.caught_up and job.job_id.startswith(f"llmr-{self.tp.partition}-"):
                    self._apply_job(job)
            else:
                entry = decode(record.value, BatchEntry)
                self.entries[record.offset] = entry
                if self.caught_up:
                    self.pending[entry.model].append(record.offset)
        if not self.caught_up and self.position >= self.end_offset:
            self._settle()

    def reached(self, position: int) -> None:
        """The consumer's position moved past records that were not data (markers)."""
        self.position = max(self.position, position)
        if not self.caught_up and self.position >= self.end_offset:
            self._settle()

    def _apply_job(self, job: BatchJob) -> None:
        if job.state is BatchJobState.DONE:
            self.jobs.pop(job.job_id, None)
            for offset in job.entries:
                self.entries.pop(offset, None)
        else:
            self.jobs[job.job_id] = job

    def _settle(self) -> None:
        """Caught up: every entry in no live job waits for one."""
        self.caught_up = True
        taken = {offset for job in self.jobs.values() for offset in job.entries}
        self.pending.clear()
        for offset in sorted(self.entries):
            if offset not in taken:
                self.pending[self.entries[offset].model].append(offset)
        log.info(
            "batch partition caught up",
            partition=self.tp.partition,
            waiting=sum(len(p) for p in self.pending.values()),
            jobs=len(self.jobs),
        )

    # -- driving the jobs ----------------------------------------------------------------

    async def tick(self) -> None:
        """One round: collect what is due into jobs, submit open jobs, poll due ones."""
        if not self.caught_up:
            return
        await self._collect()
        due = [job for job in self.jobs.values() if self._due(job)]
        await asyncio.gather(*(self._drive(job) for job in due))

    def _due(self, job: BatchJob) -> bool:
        return job.state is BatchJobState.OPEN or time.monotonic() >= self._next_poll.get(
            job.job_id, 0.0
        )

    async def _drive(self, job: BatchJob) -> None:
        if job.state is BatchJobState.OPEN:
            await self._submit(job)
        else:
            await self._poll(job)

    def _policy(self, model: str) -> BatchApiSpec:
        spec = self.router.config.models.get(model)
        return spec.batch_api if spec is not None and spec.batch_api is not None else BatchApiSpec()

    async def _collect(self) -> None:
        now = utc_now()
        for model, offsets in list(self.pending.items()):
            policy = self._policy(model)
            while offsets:
                take: list[int] = []
                size = 0
                for offset in offsets:
                    entry_bytes = self.entries[offset].size_bytes
                    if take and (
                        len(take) >= policy.max_requests or size + entry_bytes > policy.max_bytes
                    ):
                        break
                    take.append(offset)
                    size += entry_bytes
                full = len(take) < len(offsets)
                oldest = self.entries[offsets[0]].handed_at
                if not full and (now - oldest).total_seconds() < policy.max_wait_s:
                    break
                entry = self.entries[take[0]]
                job = BatchJob(
                    job_id=self._job_id(take[0]),
                    model=model,
                    provider=entry.provider,
                    state=BatchJobState.OPEN,
                    entries=take,
                )
                await self._commit([_job_output(self.tp.topic, job)], self._low_water())
                self.jobs[job.job_id] = job
                self._unsent.add(job.job_id)
                del offsets[: len(take)]
                log.info("batch job opened", job_id=job.job_id, model=model, requests=len(take))
            if not offsets:
                del self.pending[model]

    def _job_id(self, first: int) -> str:
        """A new job id whose record key the producer's partitioner sends to this
        partition: a job lives beside its entries, with their one owner."""
        while True:
            job_id = f"llmr-{self.tp.partition}-{first}-{secrets.token_hex(4)}"
            if (murmur2(job_key(job_id)) & 0x7FFFFFFF) % self.partitions == self.tp.partition:
                return job_id

    def _client(self, model: str) -> BatchClient:
        client = self._clients.get(model)
        if client is None:
            client = self._clients[model] = batch_client(self.router, model)
        return client

    async def _submit(self, job: BatchJob) -> None:
        client = self._client(job.model)
        if job.job_id in self._unsent:
            self._unsent.discard(job.job_id)  # a create that fails ends this owner
            found = None
        else:
            found = await client.find(
                job.job_id,
                created_after=job.created_at,
                requests=len(job.entries),
                taken={j.provider_batch_id for j in self.jobs.values() if j.provider_batch_id},
            )
        if found == WAIT:
            self._next_poll[job.job_id] = time.monotonic() + self._policy(job.model).poll_s
            return
        batch_id = found
        if batch_id is None:
            lines = [
                BatchLine(custom_id(job.job_id, offset), self.entries[offset].body)
                for offset in job.entries
            ]
            batch_id = await client.create(job.job_id, lines)
        submitted = job.model_copy(
            update={
                "state": BatchJobState.SUBMITTED,
                "provider_batch_id": batch_id,
                "submitted_at": utc_now(),
            }
        )
        await self._commit([_job_output(self.tp.topic, submitted)], self._low_water())
        self.jobs[job.job_id] = submitted
        self._next_poll[job.job_id] = time.monotonic() + self._policy(job.model).poll_s
        log.info(
            "batch job submitted", job_id=job.job_id, batch_id=batch_id, found=found is not None
        )

    async def _poll(self, job: BatchJob) -> None:
        assert job.provider_batch_id is not None
        client = self._client(job.model)
        status = await client.retrieve(job.provider_batch_id)
        if not status.ended:
            self._next_poll[job.job_id] = time.monotonic() + self._policy(job.model).poll_s
            return
        lines = await client.results(job.provider_batch_id) if status.status != "failed" else []
        if lines and not any(line.custom_id.startswith(f"{job.job_id}-") for line in lines):
            await self._reopen(job)  # found again by its size alone, and not ours
            return
        by_id = {line.custom_id: line for line in lines}
        spec = self.router.config.models[job.model]
        sdk = self.router.pool.client_for(job.model)
        realtime = sdk if isinstance(sdk, SdkProvider) else None
        policy = self._policy(job.model)
        outputs: list[Output] = []
        counts: dict[str, int] = defaultdict(int)
        answers: list[tuple[BatchEntry, LLMResult, Decimal]] = []
        for offset in job.entries:
            entry = self.entries[offset]
            published = entry_outputs(
                entry,
                by_id.get(custom_id(job.job_id, offset)),
                spec,
                realtime,
                policy,
                status.status,
            )
            outputs += published.outputs
            counts[published.outcome] += 1
            if published.result is not None:
                answers.append((entry, published.result, published.charge_usd))
        # on the task's budget and kept for copies, before the publish (once each if retried)
        await settle_answers(self.router.budget, self.router.state.dedupe, answers)
        done = job.model_copy(
            update={
                "state": BatchJobState.DONE,
                "provider_status": status.status,
                "answered": counts["answered"],
                "fallen_back": counts["fallback"],
                "failed": counts["failed"],
                "ended_at": utc_now(),
            }
        )
        topic = self.tp.topic
        outputs.append(_job_output(topic, done))
        # tombstones: the compacted topic forgets the job and its entries
        outputs += [
            Output(topic, _TOMBSTONE, entry_key(self.entries[o].origin)) for o in job.entries
        ]
        outputs.append(Output(topic, _TOMBSTONE, job_key(job.job_id)))
        finished = set(job.entries)
        await self._commit(outputs, self._low_water(without=finished))
        marks = in_job_marks(self.router.state)
        for offset in job.entries:
            entry = self.entries.pop(offset)
            await marks.unmark(entry.request.task, entry.request.request_id, entry.origin)
        self.jobs.pop(job.job_id, None)
        self._next_poll.pop(job.job_id, None)
        for outcome, count in counts.items():
            METRICS.batch_requests.labels(job.model, outcome).inc(count)
        log.info(
            "batch job done",
            job_id=job.job_id,
            status=status.status,
            answered=counts["answered"],
            fallback=counts["fallback"],
            failed=counts["failed"],
        )

    async def _reopen(self, job: BatchJob) -> None:
        """A provider job taken for `job` turned out to be another's: `job` is open again,
        to be found (now that the other has ended, its custom ids tell it apart) or made."""
        reopened = job.model_copy(
            update={"state": BatchJobState.OPEN, "provider_batch_id": None, "submitted_at": None}
        )
        await self._commit([_job_output(self.tp.topic, reopened)], self._low_water())
        self.jobs[job.job_id] = reopened
        self._next_poll.pop(job.job_id, None)
        log.warning(
            "batch job found again was another's; looking again",
            job_id=job.job_id,
            batch_id=job.provider_batch_id,
        )

    def _low_water(self, without: set[int] | frozenset[int] = frozenset()) -> int:
        live = [offset for offset in self.entries if offset not in without]
        return min(live) if live else self.position

    async def _commit(self, outputs: Sequence[Output], low_water: int) -> None:
        async with self._lock:
            await commit_transaction(self.producer, outputs, {self.tp: low_water}, self.group_id)

    async def aclose(self) -> None:
        """Stop the partition's producer and close its batch clients."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
        with contextlib.suppress(Exception):
            await self.producer.stop()

    # -- what it shows -------------------------------------------------------------------

    def waiting(self) -> int:
        return len(self.entries)

    def jobs_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for job in self.jobs.values():
            counts[job.state.value] += 1
        return counts

    def oldest_job_age_s(self) -> float:
        if not self.jobs:
            return 0.0
        oldest = min(job.created_at for job in self.jobs.values())
        return max(0.0, (utc_now() - oldest).total_seconds())


def _job_output(topic: str, job: BatchJob) -> Output:
    return Output(topic, encode(job), job_key(job.job_id))

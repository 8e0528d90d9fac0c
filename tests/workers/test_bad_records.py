"""Every record finishes, and every output fits: hundreds of bad records, generated with
hypothesis and written by hand, go through the real broker into running classifier and
router workers, interleaved with good requests on the same partitions: on the requests
topic of a task that passes the classifier, on a classified topic, and on the requests
topic of a task the router reads directly.

Every good request is answered exactly once; every bad record ends as a dead letter at
its own topic, partition and offset (bounded: a prefix of the value with the size and
SHA-256 of all of it), with a `failed` result too when its request id is readable and
fits one; and the committed offsets of both consumer groups pass every record.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from llmrouter.schemas import (
    DLQ_TOPIC,
    DeadLetter,
    LLMResult,
    ResultStatus,
    classified_topic,
    decode,
    requests_topic,
    results_topic,
)
from llmrouter.schemas.dlq import PAYLOAD_PREFIX_BYTES
from llmrouter.workers.outputs import (
    MAX_ECHOED_HEADERS_BYTES,
    MAX_ECHOED_METADATA_BYTES,
    MAX_REQUEST_ID_CHARS,
)
from tests.workers.bad_records import BadRecord, bad_records, request
from tests.workers.conftest import Pipeline, assign_from_start

MakePipeline = Callable[..., Awaitable[Pipeline]]

#: what the workers accept (key, value and headers) in this test
_MAX_MESSAGE_BYTES = 1_500_000
#: what the requests topic accepts: more than the brokers' default, so a request can
#: be read whose classified form is too large to send
_TOPIC_MAX_BYTES = 3_000_000
_PARTITIONS = 3


@dataclass(frozen=True)
class Sent:
    topic: str
    partition: int
    offset: int
    record: BadRecord | None  # None: a good request
    request_id: str | None = None


def _good(request_id: str, task: str, **fields: object) -> bytes:
    return orjson.dumps(request(request_id, task, input=f"Please summarise {request_id}", **fields))


def _hand_written(task: str, suffix: str, topic_kind: str) -> list[BadRecord]:
    rid = f"hand-{topic_kind}"
    cases = [
        BadRecord("tombstone", None, key=b"tombstone"),
        BadRecord("empty", b""),
        BadRecord("json-null", b"null"),
        BadRecord("json-list", b"[]"),
        BadRecord("json-string", b'"summarise this"'),
        BadRecord("whitespace", b"   \n"),
        BadRecord("bom", b"\xef\xbb\xbf" + _good(f"{rid}-bom", task)),
        BadRecord("id-with-surrogate", b'{"request_id":"\\ud800","task":"t","input":"x"}'),
        BadRecord(
            "task-of-another-topic",
            orjson.dumps(request(f"{rid}-task", f"other-{suffix}")),
            answered=f"{rid}-task",
        ),
        BadRecord(
            "metadata-just-over",
            orjson.dumps(
                request(f"{rid}-meta", task, metadata={"m": "x" * MAX_ECHOED_METADATA_BYTES})
            ),
            answered=f"{rid}-meta",
        ),
        BadRecord(
            "id-one-over",
            orjson.dumps(request("i" * (MAX_REQUEST_ID_CHARS + 1), task)),
        ),
    ]
    if topic_kind != "classified":  # these take records larger than the brokers' default
        cases += [
            BadRecord(
                "huge-headers",
                _good(f"{rid}-headers", task),
                headers=[(f"h{i}", b"v" * 100_000) for i in range(16)],
                answered=f"{rid}-headers",
            ),
            BadRecord(
                "huge-key",
                _good(f"{rid}-key", task),
                key=b"k" * (_MAX_MESSAGE_BYTES + 1),
                answered=f"{rid}-key",
            ),
        ]
    if topic_kind == "requests":
        # readable, but its classified form is larger than the producer may send
        cases.append(
            BadRecord(
                "output-too-large",
                _good(f"{rid}-output", task, context={"pad": "p" * 1_200_000}),
                answered=f"{rid}-output",
            )
        )
    return cases


def _odd_goods(
    task: str, suffix: str, topic_kind: str
) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """Requests that look odd but are valid: each must be answered."""
    base = f"odd-{topic_kind}-{suffix}"
    longest = (base + "-" + "z" * MAX_REQUEST_ID_CHARS)[:MAX_REQUEST_ID_CHARS]
    meta = {"m": "y" * (MAX_ECHOED_METADATA_BYTES - 100)}
    many_headers = [(f"x-h{i}", b"w" * 10_000) for i in range(40)]
    return [
        (f"{base}-ü-ñ-😀", _good(f"{base}-ü-ñ-😀", task), []),
        (f"{base}-nul\x00", _good(f"{base}-nul\x00", task), []),
        (longest, _good(longest, task), []),
        (f"{base}-meta", _good(f"{base}-meta", task, metadata=meta), []),
        (f"{base}-headers", _good(f"{base}-headers", task), many_headers),
    ]


async def _raise_topic_limit(bootstrap: str, topic: str, limit_bytes: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(limit_bytes)}
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


async def _committed(bootstrap: str, group_id: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def _read(
    bootstrap: str,
    topics: Iterable[str],
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout_s: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topics` (read_committed) until `until(records)` holds, then one
    more second of reading to catch anything published twice."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await assign_from_start(consumer, topics)
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        satisfied_at: float | None = None
        while True:
            now = loop.time()
            if satisfied_at is None and until(records):
                satisfied_at = now
            if satisfied_at is not None and now - satisfied_at > 1.0:
                return records
            assert now < deadline, f"timed out with {len(records)} records on {list(topics)}"
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()


async def test_every_record_finishes_and_every_output_fits(
    pipeline: MakePipeline, kafka_bootstrap: str
) -> None:
    p = await pipeline(partitions=_PARTITIONS)
    # qa has a complexity route (its requests pass the classifier); summ a static one
    qa, summ = p.tasks["qa"], p.tasks["summ"]
    inputs = {
        "requests": (requests_topic(qa), qa),
        "classified": (classified_topic(summ), summ),
        "direct": (requests_topic(summ), summ),
    }
    for kind in ("requests", "direct"):
        await _raise_topic_limit(kafka_bootstrap, inputs[kind][0], _TOPIC_MAX_BYTES)
    await p.start(max_message_bytes=_MAX_MESSAGE_BYTES)

    # What goes in: on each input topic, generated and hand-written bad records, each
    # partition's interleaved with good requests.
    plan: list[
        tuple[
            str,
            int,
            bytes | None,
            bytes | None,
            list[tuple[str, bytes]],
            BadRecord | None,
            str | None,
        ]
    ] = []
    for kind, (topic, task) in inputs.items():
        bad = [
            *bad_records(task, prefix=f"bad-{kind}-{p.suffix}"),
            *_hand_written(task, p.suffix, kind),
        ]
        goods = iter(_odd_goods(task, p.suffix, kind))
        for i, record in enumerate(bad):
            partition = i % _PARTITIONS
            if i % 3 == 0:
                rid, value, headers = next(goods, (None, b"", []))
                if rid is None:
                    rid = f"good-{kind}-{p.suffix}-{i}"
                    value = _good(rid, task)
                plan.append((topic, partition, rid.encode(), value, headers, None, rid))
            plan.append((topic, partition, record.key, record.value, record.headers, record, None))
        for partition in range(_PARTITIONS):  # a good one last on every partition
            rid = f"last-{kind}-{p.suffix}-{partition}"
            plan.append((topic, partition, rid.encode(), _good(rid, task), [], None, rid))

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, max_request_size=_TOPIC_MAX_BYTES, linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, partition=partition, headers=headers)
            for topic, partition, key, value, headers, _, _ in plan
        ]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    sent = [
        Sent(topic, partition, meta.offset, record, rid)
        for (topic, partition, _, _, _, record, rid), meta in zip(plan, metadata, strict=True)
    ]
    bad_sent: list[tuple[Sent, BadRecord]] = []
    good_ids: list[str] = []
    for s in sent:
        if s.record is not None:
            bad_sent.append((s, s.record))
        elif s.request_id is not None:
            good_ids.append(s.request_id)
    answered = [record.answered for _, record in bad_sent if record.answered]
    assert len(bad_sent) > 400
    assert len(good_ids) > 150
    assert len(set(good_ids) | set(answered)) == len(good_ids) + len(answered), "ids unique"

    # Every good request answered once and ok; every answerable bad one failed, once.
    expected = Counter([*good_ids, *answered])
    raw_results = await _read(
        kafka_bootstrap,
        [results_topic(qa), results_topic(summ)],
        until=lambda rs: set(expected) <= {decode(r.value, LLMResult).request_id for r in rs},
    )
    results = [decode(r.value, LLMResult) for r in raw_results]
    assert Counter(r.request_id for r in results) == expected
    by_id = {r.request_id: r for r in results}
    for rid in good_ids:
        assert by_id[rid].status is ResultStatus.OK, (rid, by_id[rid].error)
    for rid in answered:
        assert by_id[rid].status is ResultStatus.FAILED, rid
        assert by_id[rid].error, rid
        assert by_id[rid].attempts == [], rid
    assert by_id[f"odd-requests-{p.suffix}-meta"].metadata["m"].startswith("yyy")
    for r in raw_results:  # echoed headers and metadata are bounded
        assert sum(len(k) + len(v or b"") for k, v in r.headers) <= MAX_ECHOED_HEADERS_BYTES
        assert len(orjson.dumps(decode(r.value, LLMResult).metadata)) <= MAX_ECHOED_METADATA_BYTES
    oversized = by_id["hand-requests-output"]
    assert (oversized.error or "").startswith("MessageTooLarge: output to"), oversized.error

    # Every bad record dead-lettered once, where it was, with a bounded payload.
    where = {(s.topic, s.partition, s.offset): record for s, record in bad_sent}
    mine = {topic for topic, _ in inputs.values()}

    def letters_of(records: list[ConsumerRecord[bytes, bytes]]) -> list[DeadLetter]:
        letters = (decode(r.value, DeadLetter) for r in records)
        return [x for x in letters if x.source_topic in mine]

    raw_letters = await _read(
        kafka_bootstrap, [DLQ_TOPIC], until=lambda rs: len(letters_of(rs)) >= len(where)
    )
    letters = letters_of(raw_letters)
    at = Counter((x.source_topic, x.partition, x.offset) for x in letters)
    assert at == Counter(where.keys()), "one dead letter per bad record, none for a good one"
    for letter in letters:
        record = where[(letter.source_topic, letter.partition, letter.offset)]
        value = record.value or b""
        prefix = letter.original_bytes()
        assert letter.payload_size_bytes == len(value), record.kind
        assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
        assert len(prefix) <= PAYLOAD_PREFIX_BYTES, record.kind
        assert value.startswith(prefix), record.kind
        assert letter.payload_truncated == (len(value) > PAYLOAD_PREFIX_BYTES), record.kind
        assert len(letter.key or "") <= 1024
        if record.kind in ("long-id", "id-one-over"):
            assert letter.request_id is None
            assert "no result can carry it" in letter.error, letter.error
    for raw in raw_letters:  # the dead letters themselves stay small
        assert len(raw.value) < 64 * 1024

    # The committed offsets of both groups pass every record sent.
    groups = {
        inputs["requests"][0]: f"{p.group_prefix}llmrouter-classifier",
        inputs["classified"][0]: f"{p.group_prefix}llmrouter-router",
        inputs["direct"][0]: f"{p.group_prefix}llmrouter-router",
    }
    last: dict[TopicPartition, int] = {}
    for s in sent:
        tp = TopicPartition(s.topic, s.partition)
        last[tp] = max(last.get(tp, -1), s.offset)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        committed: dict[TopicPartition, int] = {}
        for topic, group in groups.items():
            committed |= {
                tp: o
                for tp, o in (await _committed(kafka_bootstrap, group)).items()
                if tp.topic == topic
            }
        behind = {
            tp: (committed.get(tp), offset)
            for tp, offset in last.items()
            if committed.get(tp, -1) <= offset
        }
        if not behind:
            break
        assert loop.time() < deadline, f"committed offsets stuck: {behind}"
        await asyncio.sleep(0.2)

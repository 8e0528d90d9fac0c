"""Every aiokafka exception class is translated into our tree, and real client failures
arrive as our errors."""

from __future__ import annotations

import inspect
import socket
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import errors as ak

from llmrouter.core.errors import (
    KafkaFenced,
    KafkaRequestRejected,
    KafkaTopicMissing,
    KafkaUnavailable,
    LLMRouterError,
)
from llmrouter.kafkaio.errors import AIOKAFKA_ERRORS, kafka_errors, translate_kafka_error
from tests.kafka_helpers import MakeProducer, MakeTopics


def _aiokafka_exception_classes() -> set[type[BaseException]]:
    return {
        obj
        for obj in vars(ak).values()
        if inspect.isclass(obj)
        and issubclass(obj, Exception)
        and obj.__module__.startswith("aiokafka")
    }


def test_every_aiokafka_exception_class_is_mapped() -> None:
    """Fails when an aiokafka release adds an exception class we have not decided about."""
    classes = _aiokafka_exception_classes()
    assert len(classes) > 50, "the walk found too few classes to be aiokafka.errors"
    unmapped = sorted(cls.__qualname__ for cls in classes if cls not in AIOKAFKA_ERRORS)
    assert not unmapped, f"aiokafka exceptions with no translation: {unmapped}"


def test_every_translation_lands_under_kafka_unavailable() -> None:
    for cls, ours in AIOKAFKA_ERRORS.items():
        assert issubclass(ours, KafkaUnavailable), cls


def test_retriable_errors_are_never_final() -> None:
    """What aiokafka calls retriable must not become an error that says retrying is futile."""
    final = {
        cls.__qualname__
        for cls, ours in AIOKAFKA_ERRORS.items()
        if getattr(cls, "retriable", False) and ours not in (KafkaUnavailable, KafkaTopicMissing)
    }
    assert not final


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ak.ProducerFenced(), KafkaFenced),
        (ak.UnknownTopicOrPartitionError(), KafkaTopicMissing),
        (ak.MessageSizeTooLargeError(), KafkaRequestRejected),
        (ak.KafkaConnectionError("refused"), KafkaUnavailable),
    ],
)
def test_the_context_manager_translates_and_keeps_the_cause(
    raised: Exception, expected: type[KafkaUnavailable]
) -> None:
    with pytest.raises(expected) as info, kafka_errors("publishing to llm.requests.x"):
        raise raised
    assert type(info.value) is expected
    assert info.value.__cause__ is raised
    assert str(info.value).startswith("publishing to llm.requests.x: ")
    assert type(raised).__name__ in str(info.value)


def test_an_unknown_subclass_resolves_through_its_bases() -> None:
    class FutureFencing(ak.ProducerFenced):  # type: ignore[misc]  # aiokafka has no stubs
        pass

    assert isinstance(translate_kafka_error(FutureFencing(), "x"), KafkaFenced)


def test_our_own_errors_and_bugs_pass_through_unchanged() -> None:
    ours = KafkaTopicMissing("already ours")
    with pytest.raises(KafkaTopicMissing) as info, kafka_errors("x"):
        raise ours
    assert info.value is ours
    with pytest.raises(ZeroDivisionError), kafka_errors("x"):
        _ = 1 / 0


async def test_a_broker_that_is_not_there_is_kafka_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=2000)
    try:
        with pytest.raises(KafkaUnavailable) as info, kafka_errors("cannot connect"):
            await producer.start()
    finally:
        await producer.stop()
    assert isinstance(info.value, LLMRouterError)
    assert isinstance(info.value.__cause__, ak.KafkaError)


@pytest.mark.kafka
async def test_a_record_over_the_size_limit_is_rejected(
    make_topics: MakeTopics, make_producer: MakeProducer, unique_name: Callable[[str], str]
) -> None:
    (topic,) = await make_topics(unique_name("too-large"))
    producer = await make_producer(max_request_size=1024)
    with pytest.raises(KafkaRequestRejected) as info, kafka_errors(f"publishing to {topic}"):
        await producer.send_and_wait(topic, b"x" * 4096)
    assert topic in str(info.value)

"""Translate aiokafka's exceptions into our error tree, at the one boundary every Kafka call
crosses: `with kafka_errors("what we were doing"): await client.call()`.

Each aiokafka exception class is named in `AIOKAFKA_ERRORS`;
`tests/kafkaio/test_kafka_errors.py` fails when an aiokafka release adds a class we have not
decided about. At run time an unknown subclass resolves through its MRO, so a new release
never lets a raw aiokafka exception escape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from aiokafka import errors as ak

from llmrouter.core.errors import (
    KafkaAccessDenied,
    KafkaFenced,
    KafkaRequestRejected,
    KafkaTopicMissing,
    KafkaUnavailable,
)

__all__ = ["AIOKAFKA_ERRORS", "KAFKA_CLIENT_ERRORS", "kafka_errors", "translate_kafka_error"]

#: What an aiokafka call may raise: its error root and the two classes outside it.
KAFKA_CLIENT_ERRORS: tuple[type[Exception], ...] = (
    ak.KafkaError,
    ak.ConsumerStoppedError,
    ak.IllegalOperation,
)

_ACCESS_DENIED: tuple[type[Exception], ...] = (
    ak.AuthenticationFailedError,
    ak.AuthenticationMethodNotSupported,
    ak.ClusterAuthorizationFailedError,
    ak.DelegationTokenAuthDisabled,
    ak.DelegationTokenAuthorizationFailed,
    ak.DelegationTokenExpired,
    ak.DelegationTokenNotFound,
    ak.DelegationTokenOwnerMismatch,
    ak.DelegationTokenRequestNotAllowed,
    ak.GroupAuthorizationFailedError,
    ak.IllegalSaslStateError,
    ak.InvalidPrincipalType,
    ak.SaslAuthenticationFailed,
    ak.SecurityDisabled,
    ak.TopicAuthorizationFailedError,
    ak.TransactionalIdAuthorizationFailed,
    ak.UnsupportedSaslMechanismError,
)

_FENCED: tuple[type[Exception], ...] = (
    ak.InvalidProducerEpoch,
    ak.ProducerFenced,
    ak.TransactionCoordinatorFenced,
)

_TOPIC_MISSING: tuple[type[Exception], ...] = (ak.UnknownTopicOrPartitionError,)

# Invalid requests and settings: the same request fails the same way again.
_REJECTED: tuple[type[Exception], ...] = (
    ak.IllegalArgumentError,
    ak.IncompatibleBrokerVersion,
    ak.InvalidCommitOffsetSizeError,
    ak.InvalidConfigurationError,
    ak.InvalidFetchRequestError,
    ak.InvalidGroupIdError,
    ak.InvalidPartitionsError,
    ak.InvalidReplicationAssignmentError,
    ak.InvalidReplicationFactorError,
    ak.InvalidRequestError,
    ak.InvalidRequiredAcksError,
    ak.InvalidSessionTimeoutError,
    ak.InvalidTimestampError,
    ak.InvalidTopicError,
    ak.InvalidTransactionTimeout,
    ak.KafkaConfigurationError,
    ak.MessageSizeTooLargeError,
    ak.OffsetMetadataTooLargeError,
    ak.PolicyViolationError,
    ak.RecordListTooLargeError,
    ak.RecordTooLargeError,
    ak.TopicAlreadyExistsError,
    ak.UnrecognizedBrokerVersion,
    ak.UnsupportedCodecError,
    ak.UnsupportedForMessageFormatError,
    ak.UnsupportedVersionError,
)

# The cluster is away, busy, rebalancing or in a state a later attempt may not meet.
_UNAVAILABLE: tuple[type[Exception], ...] = (
    ak.BrokerNotAvailableError,
    ak.BrokerResponseError,
    ak.Cancelled,
    ak.CommitFailedError,
    ak.ConcurrentTransactions,
    ak.ConsumerStoppedError,
    ak.CorrelationIdError,
    ak.CorruptRecordException,
    ak.DuplicateSequenceNumber,
    ak.FetchSessionIdNotFound,
    ak.GroupCoordinatorNotAvailableError,
    ak.GroupIdNotFound,
    ak.GroupLoadInProgressError,
    ak.IllegalGenerationError,
    ak.IllegalOperation,
    ak.IllegalStateError,
    ak.InconsistentGroupProtocolError,
    ak.InvalidFetchSessionEpoch,
    ak.InvalidProducerIdMapping,
    ak.InvalidTxnState,
    ak.KafkaConnectionError,
    ak.KafkaError,
    ak.KafkaProtocolError,
    ak.KafkaStorageError,
    ak.KafkaTimeoutError,
    ak.KafkaUnavailableError,
    ak.LeaderNotAvailableError,
    ak.ListenerNotFound,
    ak.LogDirNotFound,
    ak.MemberIdRequired,
    ak.MetadataEmptyBrokerList,
    ak.NoBrokersAvailable,
    ak.NodeNotReadyError,
    ak.NoError,
    ak.NoOffsetForPartitionError,
    ak.NonEmptyGroup,
    ak.NotControllerError,
    ak.NotCoordinatorForGroupError,
    ak.NotEnoughReplicasAfterAppendError,
    ak.NotEnoughReplicasError,
    ak.NotLeaderForPartitionError,
    ak.OffsetOutOfRangeError,
    ak.OperationNotAttempted,
    ak.OutOfOrderSequenceNumber,
    ak.ProducerClosed,
    ak.QuotaViolationError,
    ak.ReassignmentInProgress,
    ak.RebalanceInProgressError,
    ak.ReplicaNotAvailableError,
    ak.RequestTimedOutError,
    ak.StaleControllerEpochError,
    ak.StaleLeaderEpochCodeError,
    ak.StaleMetadata,
    ak.TooManyInFlightRequests,
    ak.UnknownError,
    ak.UnknownMemberIdError,
    ak.UnknownProducerId,
)

#: Every aiokafka exception class and the class of ours it becomes.
AIOKAFKA_ERRORS: Mapping[type[Exception], type[KafkaUnavailable]] = {
    cls: ours
    for ours, group in (
        (KafkaUnavailable, _UNAVAILABLE),
        (KafkaAccessDenied, _ACCESS_DENIED),
        (KafkaFenced, _FENCED),
        (KafkaTopicMissing, _TOPIC_MISSING),
        (KafkaRequestRejected, _REJECTED),
    )
    for cls in group
}


def translate_kafka_error(exc: BaseException, doing: str) -> KafkaUnavailable:
    """Our error for an aiokafka exception raised while `doing` (a short phrase that names
    what failed and where, e.g. "cannot connect to Kafka at host:9092")."""
    ours = next(
        (AIOKAFKA_ERRORS[cls] for cls in type(exc).__mro__ if cls in AIOKAFKA_ERRORS),
        KafkaUnavailable,
    )
    detail = str(exc) or type(exc).__name__
    if type(exc).__name__ not in detail:
        detail = f"{type(exc).__name__}: {detail}"
    return ours(f"{doing}: {detail}")


@contextlib.contextmanager
def kafka_errors(doing: str) -> Iterator[None]:
    """Raise what an aiokafka call inside raises as our error (see `translate_kafka_error`);
    works around awaits too, since the exception passes through the `with` either way."""
    try:
        yield
    except KAFKA_CLIENT_ERRORS as exc:
        raise translate_kafka_error(exc, doing) from exc

"""The single node's broker configuration: the settings one node needs (shared with the
test container), its server.properties and its logging."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["SINGLE_NODE_SETTINGS", "docker_env", "write_atomic", "write_broker_config"]

#: Broker settings a single node needs (used for the launcher and the test container).
SINGLE_NODE_SETTINGS: dict[str, str] = {
    # Internal topics default to replication factor 3; on one node the group and
    # transaction coordinators would wait forever for replicas that cannot exist.
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    # Fewer internal partitions (defaults 50) make the first consumer group and the
    # first transaction start in a second instead of many on a small machine.
    "offsets.topic.num.partitions": "10",
    "transaction.state.log.num.partitions": "10",
    "share.coordinator.state.topic.num.partitions": "10",
    # Tests and the demo join groups constantly; the 3 s default delay only adds latency.
    "group.initial.rebalance.delay.ms": "0",
    # Topics are created explicitly with the router's partition counts (`ensure_topics`).
    # Auto-creation would silently make a mistyped topic with default settings, and a
    # consumer that subscribes before its producer would race it into existence.
    "auto.create.topics.enable": "false",
}


def docker_env(settings: Mapping[str, str] = SINGLE_NODE_SETTINGS) -> dict[str, str]:
    """Broker settings as `apache/kafka` image variables (`a.b_c` -> `KAFKA_A_B__C`)."""
    return {
        "KAFKA_" + k.replace("_", "__").replace(".", "_").upper(): v for k, v in settings.items()
    }


def write_broker_config(
    *,
    host: str,
    port: int,
    controller_port: int,
    data_dir: Path,
    properties_file: Path,
    log4j_file: Path,
    log_file: Path,
) -> None:
    """Write server.properties and log4j2.properties for one broker+controller node."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    listener = f"PLAINTEXT://{host}:{port}"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        # Static voters: no dynamic quorum to bootstrap, hence `format` without --standalone.
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"{listener},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": listener,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(data_dir),
        "num.partitions": "3",
        **SINGLE_NODE_SETTINGS,
    }
    write_atomic(
        properties_file,
        "# Written by `llmrouter kafka start`; edits are lost on the next start.\n"
        + "".join(f"{k}={v}\n" for k, v in settings.items()),
    )
    write_atomic(log4j_file, _LOG4J2.format(log_file=log_file))


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_LOG4J2 = """\
# Written by `llmrouter kafka start`. Quiet console (it goes to kafka.out), full log to file.
status = warn
appender.console.type = Console
appender.console.name = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.console.ref = CONSOLE
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = warn
"""

"""A real Apache Kafka broker for development and tests, assembled from Maven Central and
run without Docker: `jars` (the program), `config` (the node's settings), `process`
(start, stop, status) and `readiness` (when it answers)."""

from llmrouter.localkafka.config import SINGLE_NODE_SETTINGS, docker_env
from llmrouter.localkafka.jars import jar_cache_dir, kafka_version
from llmrouter.localkafka.process import KafkaStatus, LocalKafka, default_state_dir
from llmrouter.localkafka.readiness import broker_ready, wait_for_broker

__all__ = [
    "SINGLE_NODE_SETTINGS",
    "KafkaStatus",
    "LocalKafka",
    "broker_ready",
    "default_state_dir",
    "docker_env",
    "jar_cache_dir",
    "kafka_version",
    "wait_for_broker",
]

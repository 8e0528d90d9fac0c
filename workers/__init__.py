"""The long-running Kafka processes and their runtime."""

"""A real Apache Kafka broker for development and tests, assembled from Maven Central."""
